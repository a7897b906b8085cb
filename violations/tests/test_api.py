"""The violations, appeals and rules endpoints under /api/v1/: scoping per role, reporter anonymity,
HR-only writes, the life-cycle actions, filters and constant query counts."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.api.testing import api_for, ids
from violations import services
from violations.choices import SanctionKind, ViolationStatus
from violations.models import Appeal, Rule, Sanction, Violation

from .conftest import at

URL = "/api/v1/violations/"


@pytest.fixture
def reported(org, group_admin, head_tech):
    """A named report about 张三 (sales, in the sales group) and an anonymous one about 孙七 (tech)."""
    named = services.report_violation(
        org["east_rep"],
        Rule.objects.get(code="B02"),
        at(2026, 11, 2, 22),
        "辱骂",
        acting_user=group_admin,
        group=org["sales_group"],
    )
    anonymous = services.report_violation(
        org["tech_dev"],
        Rule.objects.get(code="C06"),
        at(2026, 10, 3, 9),
        "广告",
        acting_user=head_tech,
        is_anonymous=True,
    )
    return {"named": named, "anonymous": anonymous}


@pytest.fixture
def notified(reported, hr):
    """张三's violation confirmed, sanctioned by the rule's defaults and notified (appeal window open)."""
    violation = reported["named"]
    services.confirm_violation(violation, acting_user=hr)
    services.apply_sanctions(violation, acting_user=hr)
    services.mark_notified(violation, acting_user=hr)
    return violation


def rows(user, url=URL):
    response = api_for(user).get(url)
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- scoping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, visible",
    [
        ("hr", {"named", "anonymous"}),
        ("auditor", {"named", "anonymous"}),
        ("head_sales", {"named"}),
        ("head_tech", {"anonymous"}),
        ("group_admin", {"named", "anonymous"}),  # admin of the sales group; the anonymous one is about them
        ("employee_user", {"named"}),
        ("outsider_user", set()),
    ],
)
def test_each_role_lists_exactly_its_violations(request, reported, who, visible):
    user = request.getfixturevalue(who)
    assert ids(api_for(user).get(URL)) == sorted(reported[k].pk for k in visible)
    for key, violation in reported.items():
        expected = 200 if key in visible else 404
        assert api_for(user).get(f"{URL}{violation.pk}/").status_code == expected, (who, key)


def test_anonymous_caller_gets_401(reported):
    assert api_for(None).get(URL).status_code == 401
    assert api_for(None).get("/api/v1/appeals/").status_code == 401
    assert api_for(None).get("/api/v1/rules/").status_code == 401


# --- reporter anonymity ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["head_sales", "employee_user", "group_admin", "head_tech"])
def test_reporter_never_shown_outside_hr_and_audit(request, reported, who):
    user = request.getfixturevalue(who)
    client = api_for(user)
    for row in [*rows(user), client.get(f"{URL}{reported['named'].pk}/").json()]:
        if row.get("id") is None:
            continue  # 404 body: not visible to this role
        assert row["reporter"] is None and row["is_anonymous"] is None and row["channel"] is None
        assert "recorded_by" not in row


@pytest.mark.parametrize("who", ["hr", "auditor"])
def test_hr_and_audit_see_named_reporter_never_the_anonymous_one(request, reported, who, group_admin):
    data = {r["rule_code"]: r for r in rows(request.getfixturevalue(who))}
    assert data["B02"]["reporter"] == group_admin.pk and data["B02"]["is_anonymous"] is False
    assert data["C06"]["reporter"] is None and data["C06"]["is_anonymous"] is True


# --- recording (HR only) ---------------------------------------------------------------------------


def new_violation(org, **extra):
    return {
        "employee": org["east_rep"].pk,
        "rule": Rule.objects.get(code="C04").pk,
        "group": org["sales_group"].pk,
        "occurred_at": "2026-11-05T10:00:00+08:00",
        "description": "上班时间发广告",
        **extra,
    }


def test_hr_records_with_the_rules_default_sanctions(org, hr):
    response = api_for(hr).post(URL, new_violation(org, impose_sanctions=True), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    violation = Violation.objects.get(pk=body["id"])
    assert violation.status == ViolationStatus.SANCTIONED and violation.channel == "api"
    expected = [s["kind"] for s in services.default_specs(violation.rule)]
    assert [s["kind"] for s in body["sanctions"]] == expected
    assert LogEntry.objects.get_for_object(violation).filter(actor=hr).exists()


def test_hr_records_with_an_explicit_sanction_list(org, hr):
    specs = [{"kind": "fine", "amount": "50.00"}, {"kind": "warning"}]
    response = api_for(hr).post(URL, new_violation(org, impose_sanctions=True, sanction_specs=specs), format="json")
    assert response.status_code == 201, response.content
    sanctions = response.json()["sanctions"]
    assert [(s["kind"], s["amount"]) for s in sanctions] == [("fine", "50.00"), ("warning", None)]


def test_hr_records_a_report_without_sanctions(org, hr):
    response = api_for(hr).post(URL, new_violation(org), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "reported" and response.json()["sanctions"] == []


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"description": "  "}, "description"),
        ({"occurred_at": "2099-01-01T10:00:00+08:00"}, "occurred_at"),
        ({"occurred_at": "0867-03-15T21:30:50-20:12"}, "occurred_at"),
        ({"impose_sanctions": True, "sanction_specs": [{"kind": "no_such_kind"}]}, "sanctions"),
        ({"impose_sanctions": True, "sanction_specs": [{"kind": "warning", "amount": "5"}]}, "sanctions"),
        ({"employee": 10**6}, "employee"),
    ],
)
def test_invalid_recording_names_the_field_and_writes_nothing(org, hr, extra, field):
    response = api_for(hr).post(URL, new_violation(org, **extra), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert not Violation.objects.exists() and not Sanction.objects.exists()


def test_head_cannot_record_even_in_own_department(org, head_sales):
    assert api_for(head_sales).post(URL, new_violation(org), format="json").status_code == 403
    assert not Violation.objects.exists()


def test_hr_cannot_use_an_inactive_rule(org, hr):
    Rule.objects.filter(code="C04").update(is_active=False)
    response = api_for(hr).post(URL, new_violation(org), format="json")
    assert response.status_code == 400 and "rule" in response.json()["error"]["fields"]


# --- life-cycle actions ----------------------------------------------------------------------------


def test_confirm_sanction_notify_cycle(reported, hr):
    client, pk = api_for(hr), reported["named"].pk
    assert client.post(f"{URL}{pk}/confirm/").json()["status"] == "confirmed"
    body = client.post(f"{URL}{pk}/sanction/", {"sanctions": [{"kind": "warning"}]}, format="json").json()
    assert body["status"] == "sanctioned" and [s["kind"] for s in body["sanctions"]] == ["warning"]
    body = client.post(f"{URL}{pk}/notify/").json()
    assert body["notified_at"] and body["appeal_deadline"]
    again = client.post(f"{URL}{pk}/notify/")
    assert again.status_code == 400 and "notified_at" in again.json()["error"]["fields"]


def test_confirm_twice_is_a_status_error(reported, hr):
    client, pk = api_for(hr), reported["named"].pk
    client.post(f"{URL}{pk}/confirm/")
    response = client.post(f"{URL}{pk}/confirm/")
    assert response.status_code == 400 and "status" in response.json()["error"]["fields"]


def test_dismiss_needs_a_reason_and_withdraws_sanctions(notified, hr):
    client, pk = api_for(hr), notified.pk
    missing = client.post(f"{URL}{pk}/dismiss/", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    body = client.post(f"{URL}{pk}/dismiss/", {"reason": "截图不实"}, format="json").json()
    assert body["status"] == "dismissed" and body["dismissed_reason"] == "截图不实"
    assert all(s["withdrawn_at"] for s in body["sanctions"])


@pytest.mark.parametrize("action", ["confirm", "dismiss", "notify", "sanction"])
@pytest.mark.parametrize("who", ["auditor", "head_sales", "employee_user", "group_admin"])
def test_non_hr_cannot_run_actions(request, reported, action, who):
    response = api_for(request.getfixturevalue(who)).post(
        f"{URL}{reported['named'].pk}/{action}/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 403
    assert Violation.objects.get(pk=reported["named"].pk).status == ViolationStatus.REPORTED


def _removal_violation(org, hr, group):
    violation = services.record_violation(
        org["east_rep"], Rule.objects.get(code="C04"), at(2026, 11, 2, 10), "x", acting_user=hr, group=group
    )
    services.confirm_violation(violation, acting_user=hr)
    services.apply_sanctions(violation, [{"kind": "removal"}], acting_user=hr)
    return violation


def test_group_admin_records_removal_done(org, hr, group_admin):
    violation = _removal_violation(org, hr, org["sales_group"])
    response = api_for(group_admin).post(f"{URL}{violation.pk}/removal-done/", {}, format="json")
    assert response.status_code == 200, response.content
    removal = Sanction.objects.get(violation=violation, kind=SanctionKind.REMOVAL)
    assert removal.carried_out_at is not None and removal.carried_out_by == group_admin
    again = api_for(hr).post(f"{URL}{violation.pk}/removal-done/", {"sanction": removal.pk}, format="json")
    assert again.status_code == 400


def test_removal_done_refused_to_head_and_hidden_from_outsiders(org, hr, head_sales, outsider_user):
    # In the tech group: 李销售 sees the violation (his department's employee) but does not run that group.
    violation = _removal_violation(org, hr, org["tech_group"])
    assert api_for(head_sales).post(f"{URL}{violation.pk}/removal-done/", {}, format="json").status_code == 403
    assert api_for(outsider_user).post(f"{URL}{violation.pk}/removal-done/", {}, format="json").status_code == 404
    assert not Sanction.objects.filter(carried_out_at__isnull=False).exists()


def test_removal_done_without_a_pending_removal_names_the_field(reported, hr):
    violation = reported["named"]
    services.confirm_violation(violation, acting_user=hr)
    services.apply_sanctions(violation, [{"kind": "warning"}], acting_user=hr)
    response = api_for(hr).post(f"{URL}{violation.pk}/removal-done/", {}, format="json")
    assert response.status_code == 400 and "sanction" in response.json()["error"]["fields"]


# --- appeals ---------------------------------------------------------------------------------------

APPEALS = "/api/v1/appeals/"


def test_employee_appeals_own_violation_and_hr_decides(notified, employee_user, hr):
    response = api_for(employee_user).post(APPEALS, {"violation": notified.pk, "statement": "我没有"}, format="json")
    assert response.status_code == 201, response.content
    appeal = Appeal.objects.get(pk=response.json()["id"])
    assert appeal.filed_by == employee_user and not appeal.on_behalf
    assert ids(api_for(employee_user).get(APPEALS)) == [appeal.pk]
    decided = api_for(hr).post(
        f"{APPEALS}{appeal.pk}/decide/", {"outcome": "overturned", "reason": "证据不足"}, format="json"
    )
    assert decided.status_code == 200 and decided.json()["status"] == "overturned"
    notified.refresh_from_db()
    assert notified.status == ViolationStatus.OVERTURNED
    assert not Sanction.objects.filter(violation=notified, withdrawn_at__isnull=True).exists()


def test_appeal_after_the_window_is_refused(notified, employee_user):
    Violation.objects.filter(pk=notified.pk).update(appeal_deadline=timezone.localdate() - datetime.timedelta(days=1))
    response = api_for(employee_user).post(APPEALS, {"violation": notified.pk, "statement": "晚了"}, format="json")
    assert response.status_code == 400 and "statement" in response.json()["error"]["fields"]
    assert not Appeal.objects.exists()


@pytest.mark.parametrize("who, status", [("head_sales", 403), ("group_admin", 403), ("head_tech", 400)])
def test_others_cannot_appeal_for_the_employee(request, notified, who, status):
    # head_tech cannot even see the violation: "does not exist" on the field, no leak.
    user = request.getfixturevalue(who)
    response = api_for(user).post(APPEALS, {"violation": notified.pk, "statement": "代申诉"}, format="json")
    assert response.status_code == status, response.content
    assert not Appeal.objects.exists()


def test_decide_is_hr_only_and_needs_valid_outcome(notified, employee_user, hr, head_sales, auditor):
    appeal = services.file_appeal(notified, "不服", acting_user=employee_user)
    for user in (employee_user, head_sales, auditor):
        body = {"outcome": "upheld", "reason": "x"}
        assert api_for(user).post(f"{APPEALS}{appeal.pk}/decide/", body, format="json").status_code == 403
    bad = api_for(hr).post(f"{APPEALS}{appeal.pk}/decide/", {"outcome": "pending", "reason": "x"}, format="json")
    assert bad.status_code == 400 and "outcome" in bad.json()["error"]["fields"]
    assert Appeal.objects.get(pk=appeal.pk).status == "pending"


def test_appeals_scoped_by_id(notified, employee_user, head_tech, outsider_user):
    appeal = services.file_appeal(notified, "不服", acting_user=employee_user)
    for user in (head_tech, outsider_user):
        assert api_for(user).get(f"{APPEALS}{appeal.pk}/").status_code == 404
        assert rows(user, APPEALS) == []


# --- rules -----------------------------------------------------------------------------------------

RULES = "/api/v1/rules/"


def test_everyone_reads_the_catalog(outsider_user):
    assert len(rows(outsider_user, RULES + "?page_size=500")) == Rule.objects.count()


def test_hr_adds_and_deactivates_a_rule_never_deletes(hr, head_sales):
    body = {"code": "Z01", "title_zh": "测试", "title_en": "Test", "category": "conduct"}
    body["default_sanctions"] = [{"kind": "warning"}]
    assert api_for(head_sales).post(RULES, body, format="json").status_code == 403
    created = api_for(hr).post(RULES, body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api_for(hr).patch(f"{RULES}{pk}/", {"is_active": False}, format="json").json()["is_active"] is False
    assert api_for(hr).delete(f"{RULES}{pk}/").status_code == 405
    assert LogEntry.objects.get_for_object(Rule.objects.get(pk=pk)).filter(actor=hr).count() == 2


def test_invalid_rule_names_the_field(hr):
    body = {"code": "Z02", "title_zh": "x", "title_en": "x", "category": "conduct", "repeat_threshold": 3}
    response = api_for(hr).post(RULES, body, format="json")
    assert response.status_code == 400 and "repeat_sanctions" in response.json()["error"]["fields"]
    bad_specs = {**body, "repeat_threshold": None, "default_sanctions": [{"kind": "nope"}]}
    assert "default_sanctions" in api_for(hr).post(RULES, bad_specs, format="json").json()["error"]["fields"]
    assert not Rule.objects.filter(code="Z02").exists()


# --- filters and query counts ---------------------------------------------------------------------


def test_filters(reported, notified, hr, org):
    client, named, anonymous = api_for(hr), reported["named"], reported["anonymous"]
    assert ids(client.get(URL, {"month": "2026-11"})) == [named.pk]
    assert ids(client.get(URL, {"month": "2026-10"})) == [anonymous.pk]
    assert ids(client.get(URL, {"department": org["sales"].pk})) == [named.pk]
    assert ids(client.get(URL, {"group": org["sales_group"].pk})) == [named.pk]
    assert ids(client.get(URL, {"employee": org["tech_dev"].pk})) == [anonymous.pk]
    assert ids(client.get(URL, {"status": "reported"})) == [anonymous.pk]
    assert ids(client.get(URL, {"rule": anonymous.rule_id})) == [anonymous.pk]
    assert ids(client.get(URL, {"category": named.rule.category})) == [named.pk]
    kind = notified.sanctions.first().kind
    assert ids(client.get(URL, {"sanction_kind": kind})) == [named.pk]
    assert ids(client.get(URL, {"search": "广告"})) == [anonymous.pk]
    order = [r["id"] for r in client.get(URL, {"ordering": "occurred_at"}).json()["results"]]
    assert order == [anonymous.pk, named.pk]
    bad = client.get(URL, {"month": "2026-13"})
    assert bad.status_code == 400 and "month" in bad.json()["error"]["fields"]


def test_department_filter_cannot_reach_outside_scope(reported, head_sales, org):
    response = api_for(head_sales).get(URL, {"department": org["tech"].pk})
    assert response.status_code == 400 and "department" in response.json()["error"]["fields"]


def _add(org, hr, n):
    rule = Rule.objects.get(code="C04")
    for i in range(n):
        violation = services.record_violation(
            org["east_rep"], rule, at(2026, 9, 1 + i, 10), f"x{i}", acting_user=hr, group=org["sales_group"]
        )
        services.confirm_violation(violation, acting_user=hr)
        services.apply_sanctions(violation, [{"kind": "reminder"}], acting_user=hr)


@pytest.mark.parametrize("who", ["hr", "head_sales", "employee_user"])
@pytest.mark.parametrize("url", [URL, APPEALS, RULES])
def test_list_query_count_is_constant(request, org, hr, who, url):
    client = api_for(request.getfixturevalue(who))
    _add(org, hr, 2)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _add(org, hr, 8)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]
    assert len(large) <= 10


# --- dates outside a sane range (RFC 3339: no +08:05:43 offsets for dates before 1901) -------------


@pytest.mark.parametrize("moment", ["1800-01-01T10:00:00+08:00", "1900-12-31T23:00:00Z", "2173-01-01T00:00:00Z"])
def test_a_violation_dated_outside_1970_to_2100_is_refused(org, hr, moment):
    response = api_for(hr).post(URL, new_violation(org, occurred_at=moment), format="json")
    assert response.status_code == 400, response.content
    assert "1970-01-01 至 2100-12-31" in " ".join(response.json()["error"]["fields"]["occurred_at"])
    assert not Violation.objects.filter(description="上班时间发广告").exists()


def test_removal_done_at_a_date_outside_the_range_is_refused(org, hr):
    violation = _removal_violation(org, hr, org["sales_group"])
    response = api_for(hr).post(f"{URL}{violation.pk}/removal-done/", {"at": "1800-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 400 and "at" in response.json()["error"]["fields"]
    assert not Sanction.objects.filter(carried_out_at__isnull=False).exists()

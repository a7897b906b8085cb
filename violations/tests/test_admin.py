"""HR's admin screens: the record form works end to end, the actions call the services, scoping holds."""

from __future__ import annotations

import datetime

from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from violations.choices import SanctionKind, ViolationStatus
from violations.models import Rule, Sanction, Violation

from .conftest import at

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def record_post(org, rule, **extra):
    data = {
        "employee": org["east_rep"].pk,
        "group": org["sales_group"].pk,
        "rule": rule.pk,
        "occurred_at_0": "2026-11-02",
        "occurred_at_1": "10:30:00",
        "description": "群内发广告",
        "sanction_kinds": [s["kind"] for s in rule.default_sanctions],
        "apply_now": "on",
    }
    data.update(extra)
    return data


def inline_management(violation) -> dict:
    """What the change page posts for its two read-only inlines."""
    data = {}
    for prefix, rows in (("sanctions", violation.sanctions.all()), ("evidence", violation.evidence.all())):
        rows = list(rows)
        data.update({f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": len(rows)})
        data.update({f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
        for index, row in enumerate(rows):
            data.update({f"{prefix}-{index}-id": row.pk, f"{prefix}-{index}-violation": violation.pk})
    return data


def test_record_form_creates_sanctioned_violation_with_evidence(client, hr, org):
    client.force_login(hr)
    rule = Rule.objects.get(code="C06")
    shot = SimpleUploadedFile("广告截图.png", PNG, content_type="image/png")
    response = client.post(reverse("admin:violations_violation_add"), record_post(org, rule, evidence=[shot]))
    assert response.status_code == 302, response.context["adminform"].form.errors
    violation = Violation.objects.get()
    assert violation.status == ViolationStatus.SANCTIONED
    assert violation.recorded_by == hr
    assert list(violation.sanctions.values_list("kind", flat=True)) == [SanctionKind.WARNING]
    assert violation.evidence.get().original_name == "广告截图.png"
    entry = LogEntry.objects.get_for_object(violation).first()
    assert entry.actor == hr and entry.additional_data["channel"] == "admin"


def test_record_form_rejects_fake_png_and_writes_nothing(client, hr, org):
    client.force_login(hr)
    fake = SimpleUploadedFile("shot.png", b"MZ\x90\x00 not an image", content_type="image/png")
    response = client.post(
        reverse("admin:violations_violation_add"), record_post(org, Rule.objects.get(code="C04"), evidence=[fake])
    )
    assert response.status_code == 200
    assert "shot.png" in str(response.context["adminform"].form.errors["evidence"])
    assert not Violation.objects.exists()


def test_record_form_fine_needs_amount(client, hr, org):
    client.force_login(hr)
    rule = Rule.objects.get(code="C04")
    response = client.post(reverse("admin:violations_violation_add"), record_post(org, rule, sanction_kinds=["fine"]))
    assert response.status_code == 200
    assert "fine_amount" in response.context["adminform"].form.errors


def test_add_page_has_preview_script_and_no_inline_script(client, hr, org):
    client.force_login(hr)
    html = client.get(reverse("admin:violations_violation_add")).content.decode()
    assert "violations/record.js" in html
    assert 'data-preview-url="/violations/preview/"' in html


def test_preview_endpoint(client, hr, org, sanction):
    sanction("C04", at(2026, 9, 1, 10))
    sanction("C04", at(2026, 9, 2, 10))
    client.force_login(hr)
    rule = Rule.objects.get(code="C05")
    params = {"rule": rule.pk, "employee": org["east_rep"].pk, "occurred_at": "2026-09-03 10:00"}
    data = client.get(reverse("violations:preview"), params).json()
    assert data["defaults"] == ["warning"]
    assert data["sentences"] == ["第3次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)"]
    data = client.get(reverse("violations:preview"), {**params, "kinds": "reminder"}).json()
    assert data["sentences"] == []


def test_preview_endpoint_hr_only(client, employee_user, auditor, org):
    for user in (employee_user, auditor):
        client.force_login(user)
        assert client.get(reverse("violations:preview"), {"rule": 1}).status_code == 403


def test_list_filters_and_query_count(client, hr, org, sanction, django_assert_max_num_queries):
    for day in range(1, 6):
        sanction("C04", at(2026, 10, day, 10))
    client.force_login(hr)
    url = reverse("admin:violations_violation_changelist")
    # 20, plus HR's calendar banner (violations.calendar_notice): the latest open deadline, and in
    # the last 45 days of a year whether the next year's schedule is known.
    with django_assert_max_num_queries(22):
        assert client.get(url).status_code == 200
    params = {
        "employee_department": org["sales"].pk,
        "rule__id__exact": Rule.objects.get(code="C04").pk,
        "status__exact": "sanctioned",
        "month": "2026-10",
        "sanction": "demerit",
        "rule__category__exact": "content",
    }
    response = client.get(url, params)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1  # the third warning carries the derived demerit
    assert client.get(url, {"employee_department": org["tech"].pk}).context["cl"].result_count == 0


def test_dismiss_action_asks_reason_then_withdraws(client, hr, org, sanction):
    violation = sanction("C04", at(2026, 10, 1, 10))
    client.force_login(hr)
    url = reverse("admin:violations_violation_changelist")
    data = {"action": "dismiss_selected", "_selected_action": [violation.pk]}
    response = client.post(url, data)
    assert response.status_code == 200 and "reason" in response.content.decode()
    response = client.post(url, {**data, "reason": "经核实是他人冒用"})
    assert response.status_code == 302
    violation.refresh_from_db()
    assert violation.status == ViolationStatus.DISMISSED
    assert violation.sanctions.get().withdrawn_at is not None


def test_confirm_notify_and_removal_actions(client, hr, org):
    from violations import services

    reported = services.record_violation(
        org["east_rep"], Rule.objects.get(code="B02"), at(2026, 10, 1, 10), "辱骂同事", acting_user=hr
    )
    client.force_login(hr)
    url = reverse("admin:violations_violation_changelist")
    for action in ("confirm_and_sanction", "notify_selected", "removal_done"):
        assert client.post(url, {"action": action, "_selected_action": [reported.pk]}).status_code == 302
    reported.refresh_from_db()
    assert reported.status == ViolationStatus.SANCTIONED and reported.notified_at
    removal = reported.sanctions.get(kind=SanctionKind.REMOVAL)
    assert removal.carried_out_at and removal.carried_out_by == hr


def test_change_page_is_read_only_but_accepts_evidence(client, hr, org, sanction):
    violation = sanction("C04", at(2026, 10, 1, 10))
    client.force_login(hr)
    url = reverse("admin:violations_violation_change", args=[violation.pk])
    page = client.get(url)
    assert page.context["original"] == violation and "C04 test" in page.content.decode()
    pdf = SimpleUploadedFile("通知.pdf", b"%PDF-1.4\n%...", content_type="application/pdf")
    data = {"add_evidence": [pdf], "description": "changed", **inline_management(violation)}
    response = client.post(url, data)
    assert response.status_code == 302
    violation.refresh_from_db()
    assert violation.description == "C04 test"
    assert violation.evidence.get().file_type == "pdf"


def test_rule_cannot_be_deleted_only_deactivated(client, hr):
    client.force_login(hr)
    rule = Rule.objects.get(code="C01")
    assert client.get(reverse("admin:violations_rule_delete", args=[rule.pk])).status_code == 403
    url = reverse("admin:violations_rule_changelist")
    client.post(url, {"action": "deactivate", "_selected_action": [rule.pk]})
    rule.refresh_from_db()
    assert not rule.is_active


def test_audit_log_read_only_for_hr_and_auditor(client, hr, auditor, sanction, org):
    sanction("C04", at(2026, 10, 1, 10))
    entry = LogEntry.objects.first()
    for user in (hr, auditor):
        client.force_login(user)
        listing = client.get(reverse("admin:auditlog_logentry_changelist"))
        assert entry in listing.context["cl"].result_list
        detail = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk]))
        assert detail.context["original"] == entry and entry.object_repr in detail.content.decode()
        assert client.get(reverse("admin:auditlog_logentry_delete", args=[entry.pk])).status_code == 403
        client.post(reverse("admin:auditlog_logentry_change", args=[entry.pk]), {"action": "x"})
    assert LogEntry.objects.filter(pk=entry.pk).exists()


def test_auditor_cannot_change_violations(client, auditor, sanction):
    violation = sanction("C04", at(2026, 10, 1, 10))
    client.force_login(auditor)
    url = reverse("admin:violations_violation_changelist")
    assert [v.pk for v in client.get(url).context["cl"].result_list] == [violation.pk]
    client.post(url, {"action": "dismiss_selected", "_selected_action": [violation.pk], "reason": "x"})
    violation.refresh_from_db()
    assert violation.status == ViolationStatus.SANCTIONED
    assert client.get(reverse("admin:violations_violation_add")).status_code == 403


def test_staff_department_head_sees_only_subtree(client, django_user_model, org, sanction, head_tech):
    sales_violation = sanction("C04", at(2026, 10, 1, 10))  # 华东区 (sales)
    tech_violation = sanction("C04", at(2026, 10, 2, 10), employee=org["tech_dev"])
    head_tech.is_staff = True
    head_tech.save()
    from django.contrib.auth.models import Permission

    head_tech.user_permissions.add(Permission.objects.get(codename="view_violation"))
    client.force_login(head_tech)
    response = client.get(reverse("admin:violations_violation_changelist"))
    assert [v.pk for v in response.context["cl"].result_list] == [tech_violation.pk]
    assert list(Sanction.objects.visible_to(head_tech).values_list("violation_id", flat=True)) == [tech_violation.pk]
    assert sales_violation.pk not in {v.pk for v in Violation.objects.visible_to(head_tech)}
    # the sales violation's change page does not exist for the head of 技术部; their own does
    assert client.get(reverse("admin:violations_violation_change", args=[sales_violation.pk])).status_code == 404
    own = client.get(reverse("admin:violations_violation_change", args=[tech_violation.pk]))
    assert own.context["original"] == tech_violation


def test_hr_admin_lists_show_their_rows(client, hr, org, sanction):
    from violations.models import Appeal, CompanySettings, WorkdayOverride

    violation = sanction("C04", at(2026, 10, 1, 10))
    Appeal.objects.create(violation=violation, statement="不是我发的", decision_due=datetime.date(2026, 10, 9))
    WorkdayOverride.objects.create(date=datetime.date(2026, 10, 11), is_workday=True, note="公司加班日")
    CompanySettings.load()
    client.force_login(hr)

    def listed(name):
        response = client.get(reverse(f"admin:violations_{name}_changelist"))
        return list(response.context["cl"].result_list), response.content.decode()

    rules, _html = listed("rule")
    assert {r.code for r in rules} == set(Rule.objects.values_list("code", flat=True)) and len(rules) > 20
    overrides, html = listed("workdayoverride")
    assert [o.note for o in overrides] == ["公司加班日"] and "公司加班日" in html
    sanctions, _html = listed("sanction")
    assert [(s.violation_id, s.kind) for s in sanctions] == [(violation.pk, SanctionKind.WARNING)]
    appeals, html = listed("appeal")
    assert [a.violation_id for a in appeals] == [violation.pk] and "张三" in html
    settings_rows, _html = listed("companysettings")
    assert len(settings_rows) == 1


def test_auditor_views_change_page_read_only_with_reporter(client, auditor, group_admin, org):
    from violations import services

    violation = services.report_violation(
        org["east_rep"], Rule.objects.get(code="B02"), at(2026, 11, 2, 22), "辱骂", acting_user=group_admin
    )
    client.force_login(auditor)
    response = client.get(reverse("admin:violations_violation_change", args=[violation.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    # The reporter is named as the employee behind the login (孙七 administers the group), not "group_admin".
    assert "孙七(E0201)" in html and 'name="add_evidence"' not in html

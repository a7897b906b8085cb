"""Recording a violation warns of a likely duplicate (same employee + rule + group within 公司设置's
window, or the same text once normalised) in the admin add form, the report page and the API; the
warning is passed by 仍然保存 / ``confirm_duplicate``. Identical anonymous reports are counted on the
first one (同一举报 ×N) and stay anonymous."""

from __future__ import annotations

import datetime
import json

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from portal.api.testing import api_for
from portal.audit import report_time
from violations import services
from violations.choices import ViolationStatus
from violations.models import CompanySettings, Evidence, Rule, Violation
from violations.querysets import normalize_description

from .conftest import at
from .test_admin import record_post
from .test_anonymous_report import png_with_text

pytestmark = pytest.mark.django_db

WHEN = at(2026, 11, 2, 10, 30)
TEXT = "在群里辱骂同事,说“你不配”。"


@pytest.fixture
def existing(org, hr):
    """HR recorded 张三 · B02 · 销售部工作群 at 2026-11-02 10:30."""
    return services.record_violation(
        org["east_rep"], Rule.objects.get(code="B02"), WHEN, TEXT, acting_user=hr, group=org["sales_group"]
    )


def find(org, hr, *, rule="B02", group="sales", when=WHEN, text="另一件事", employee="east_rep"):
    return services.likely_duplicates(
        org[employee],
        Rule.objects.get(code=rule),
        org["sales_group"] if group == "sales" else group,
        when,
        text,
        user=hr,
    )


# --- the one check ---------------------------------------------------------------------------------


def test_same_employee_rule_and_group_within_the_window(org, hr, existing):
    found = find(org, hr, when=WHEN + datetime.timedelta(hours=5))
    assert found == [existing] and found[0].duplicate_reasons == ["rule_group"]


@pytest.mark.parametrize(
    "offset, expected",
    [
        (datetime.timedelta(hours=24), True),
        (-datetime.timedelta(hours=24), True),
        (datetime.timedelta(hours=24, minutes=1), False),
        (-datetime.timedelta(hours=24, minutes=1), False),
    ],
)
def test_window_edges_are_24_hours_either_side(org, hr, existing, offset, expected):
    assert bool(find(org, hr, when=WHEN + offset)) is expected


def test_the_window_is_a_company_setting(org, hr, existing):
    settings = CompanySettings.load()
    settings.duplicate_window_hours = 48
    settings.save()
    assert find(org, hr, when=WHEN + datetime.timedelta(hours=30)) == [existing]
    settings.duplicate_window_hours = 2
    settings.save()
    assert find(org, hr, when=WHEN + datetime.timedelta(hours=3)) == []


@pytest.mark.parametrize(
    "variant",
    [
        TEXT,
        "  在群里 辱骂同事,\n说“你不配”。  ",  # whitespace anywhere
        "在群里辱骂同事,说“你不配”。",  # full-width comma typed as half-width
        "在群里\u200b辱骂同事,说“你不配”。",  # an invisible character pasted from the chat
    ],
)
def test_same_text_normalised_even_with_another_rule_and_no_group(org, hr, existing, variant):
    found = find(org, hr, rule="B03", group=None, text=variant)
    assert found == [existing] and found[0].duplicate_reasons == ["text"]


def test_normalisation_folds_width_case_and_spaces():
    assert normalize_description("ＡＢＣ １２３ 你好") == normalize_description("abc123你好")
    assert normalize_description("a b") != normalize_description("a c")


def test_both_reasons_are_named(org, hr, existing):
    assert find(org, hr, text=TEXT)[0].duplicate_reasons == ["rule_group", "text"]


@pytest.mark.parametrize(
    "change",
    [
        {"employee": "tech_dev"},  # another person
        {"rule": "B03"},  # another rule, other text
        {"group": None},  # out of the group, other text
        {"when": WHEN + datetime.timedelta(days=3), "text": TEXT},  # the same text, days later
    ],
)
def test_not_a_duplicate(org, hr, existing, change):
    assert find(org, hr, **change) == []


def test_no_group_on_both_is_the_same_group(org, hr):
    first = services.record_violation(org["east_rep"], Rule.objects.get(code="B02"), WHEN, "甲", acting_user=hr)
    assert find(org, hr, group=None) == [first]


def test_dismissed_records_are_named_too(org, hr, existing):
    services.dismiss_violation(existing, "查无此事", acting_user=hr)
    found = find(org, hr)
    assert found == [existing] and "不予处理" in services.duplicate_summary(found[0])


def test_only_records_the_user_may_see_are_named(org, hr, head_tech, existing):
    assert find(org, head_tech) == []  # 张三 is in 销售部, outside the tech head's scope


# --- the admin add form ------------------------------------------------------------------------------


def test_admin_form_warns_names_and_links_the_existing_record(client, hr, org, existing):
    client.force_login(hr)
    rule = Rule.objects.get(code="B02")
    response = client.post(reverse("admin:violations_violation_add"), record_post(org, rule, apply_now=""))
    assert response.status_code == 200
    assert Violation.objects.count() == 1
    html = response.content.decode()
    assert "可能与以下已有记录重复" in html
    assert reverse("admin:violations_violation_change", args=[existing.pk]) in html
    assert f"#{existing.pk} 张三 (E0101) · B02 · 2026-11-02 10:30" in html
    assert 'type="checkbox" name="confirm_duplicate"' in html


def test_admin_form_saves_with_save_anyway(client, hr, org, existing):
    client.force_login(hr)
    data = record_post(org, Rule.objects.get(code="B02"), apply_now="", confirm_duplicate="on")
    response = client.post(reverse("admin:violations_violation_add"), data)
    assert response.status_code == 302
    assert Violation.objects.count() == 2


def test_admin_form_without_a_duplicate_shows_no_checkbox(client, hr, org):
    client.force_login(hr)
    response = client.get(reverse("admin:violations_violation_add"))
    assert 'type="hidden" name="confirm_duplicate"' in response.content.decode()
    response = client.post(reverse("admin:violations_violation_add"), record_post(org, Rule.objects.get(code="B02")))
    assert response.status_code == 302 and Violation.objects.count() == 1


def test_admin_form_warns_for_the_same_text_under_another_rule(client, hr, org, existing):
    client.force_login(hr)
    rule = Rule.objects.get(code="B03")
    response = client.post(
        reverse("admin:violations_violation_add"), record_post(org, rule, description=f" {TEXT} ", apply_now="")
    )
    assert response.status_code == 200 and "经过文字相同" in response.content.decode()


def test_preview_names_likely_duplicates_while_typing(client, hr, org, existing):
    client.force_login(hr)
    params = {
        "rule": existing.rule.pk,
        "employee": org["east_rep"].pk,
        "group": org["sales_group"].pk,
        "occurred_at": "2026-11-02 18:00",
        "description": "x",
    }
    data = client.get(reverse("violations:preview"), params).json()
    assert data["duplicates"] == [
        {
            "url": reverse("admin:violations_violation_change", args=[existing.pk]),
            "text": services.duplicate_summary(find(org, hr)[0]),
        }
    ]
    data = client.get(reverse("violations:preview"), {**params, "group": ""}).json()
    assert data["duplicates"] == []  # another group (none), other text
    data = client.get(reverse("violations:preview"), {**params, "group": "", "description": TEXT}).json()
    assert len(data["duplicates"]) == 1 and "经过文字相同" in data["duplicates"][0]["text"]


# --- the report page --------------------------------------------------------------------------------


def report_post(org, **extra):
    return {
        "person": org["east_rep"].employee_no,
        "group": org["sales_group"].pk,
        "rule": Rule.objects.get(code="B02").pk,
        "occurred_at": "2026-11-02T12:00",
        "description": "又在群里骂人",
        **extra,
    }


def test_group_admin_reporting_in_their_group_is_warned_then_confirms(client, group_admin, org, existing):
    from groups.roles import sync_derived_roles

    sync_derived_roles()  # 孙七 administers 销售部工作群: staff, may view its violations
    client.force_login(group_admin)
    response = client.post(reverse("violations:report"), report_post(org))
    assert response.status_code == 200 and Violation.objects.count() == 1
    html = response.content.decode()
    assert "可能与以下已有记录重复" in html and f"#{existing.pk}" in html
    assert reverse("admin:violations_violation_change", args=[existing.pk]) in html  # staff: may open it
    response = client.post(reverse("violations:report"), report_post(org, confirm_duplicate="on"))
    assert response.status_code == 302 and Violation.objects.count() == 2


def test_employee_is_never_told_of_a_record_they_cannot_see(client, org, hr, django_user_model):
    """李销售's colleague reports 张三: the existing record is not theirs to see, so no warning."""
    from groups.models import Membership

    services.record_violation(
        org["east_rep"], Rule.objects.get(code="B02"), WHEN, TEXT, acting_user=hr, group=org["sales_group"]
    )
    user = django_user_model.objects.create_user(username="sales_head_user", password="x")
    org["ceo"].user = user
    org["ceo"].save()
    Membership.objects.create(group=org["sales_group"], employee=org["ceo"], nickname="王总")
    client.force_login(user)
    response = client.post(reverse("violations:report"), report_post(org, description=TEXT))
    assert response.status_code == 302, response.context["form"].errors
    assert Violation.objects.count() == 2


# --- the API ----------------------------------------------------------------------------------------


def api_data(org, **extra):
    return {
        "employee": org["east_rep"].pk,
        "rule": Rule.objects.get(code="B02").pk,
        "group": org["sales_group"].pk,
        "occurred_at": "2026-11-02T20:00:00+08:00",
        "description": "骂人",
        **extra,
    }


def test_api_refuses_a_likely_duplicate_with_409_naming_it(org, hr, existing):
    response = api_for(hr).post("/api/v1/violations/", api_data(org), format="json")
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "duplicate" and "confirm_duplicate" in error["message"]
    [duplicate] = error["duplicates"]
    assert duplicate["id"] == existing.pk and duplicate["reasons"] == ["rule_group"]
    assert duplicate["url"].endswith(f"/api/v1/violations/{existing.pk}/")
    assert Violation.objects.count() == 1


def test_api_records_it_with_confirm_duplicate(org, hr, existing):
    response = api_for(hr).post("/api/v1/violations/", api_data(org, confirm_duplicate=True), format="json")
    assert response.status_code == 201, response.content
    assert Violation.objects.count() == 2


def test_api_records_a_non_duplicate_at_once(org, hr, existing):
    data = api_data(org, occurred_at="2026-11-04T20:00:00+08:00")
    assert api_for(hr).post("/api/v1/violations/", data, format="json").status_code == 201


# --- identical anonymous reports --------------------------------------------------------------------


def anonymous_report(org, user, *, text=TEXT, when=WHEN, rule="B02", files=()):
    return services.report_violation(
        org["east_rep"],
        Rule.objects.get(code=rule),
        when,
        text,
        acting_user=user,
        group=org["sales_group"],
        is_anonymous=True,
        evidence_files=files,
    )


def test_identical_anonymous_reports_are_one_violation_counted(org, group_admin, head_sales, head_tech):
    first = anonymous_report(org, group_admin)
    later = WHEN + datetime.timedelta(hours=2)
    second = anonymous_report(org, head_sales, text=" 在群里辱骂同事,说“你不配”。", when=later)
    third = anonymous_report(org, head_tech)
    assert first.pk == second.pk == third.pk
    violation = Violation.objects.get()
    assert violation.report_count == 3 and violation.occurred_at == WHEN
    assert violation.reporter is None and violation.recorded_by is None


def test_grouping_keeps_anonymity(org, group_admin, head_sales):
    anonymous_report(org, group_admin)
    png = SimpleUploadedFile("王总的截图.png", png_with_text(), content_type="image/png")
    before = timezone.now()
    anonymous_report(org, head_sales, files=[png])
    violation = Violation.objects.get()
    assert violation.updated_at in {report_time(before), report_time(timezone.now())}
    evidence = Evidence.objects.get()
    assert evidence.uploaded_by is None and evidence.uploaded_at == violation.updated_at
    assert evidence.original_name.startswith("evidence-") and b"ReporterPhone" not in evidence.file.read()
    entries = LogEntry.objects.filter(additional_data__anonymous=True)
    assert all(e.actor is None and e.cid is None and e.remote_addr is None for e in entries)
    counted = [e for e in entries if e.action == LogEntry.Action.UPDATE]
    assert len(counted) == 1 and counted[0].timestamp == violation.updated_at
    assert counted[0].changes_dict["report_count"] == ["1", "2"]
    text = json.dumps(list(LogEntry.objects.values("changes", "object_repr", "additional_data")), ensure_ascii=False)
    for who in (group_admin, head_sales):
        assert who.username not in text and f'"actor": {who.pk}' not in text


def test_reporter_sees_the_same_answer_whether_counted_or_new(client, group_admin, org):
    client.force_login(group_admin)
    data = report_post(org, is_anonymous="on", description=TEXT)
    first = client.post(reverse("violations:report"), data, follow=True)
    second = client.post(reverse("violations:report"), {**data, "confirm_duplicate": "on"}, follow=True)
    messages = [[str(m) for m in response.context["messages"]] for response in (first, second)]
    assert messages[0] == messages[1] == ["举报已提交,人资部门将进行核实。"]
    assert Violation.objects.get().report_count == 2


@pytest.mark.parametrize(
    "change",
    [
        {"text": "另一段话"},
        {"rule": "B03"},
        {"when": WHEN + datetime.timedelta(hours=25)},
    ],
)
def test_different_anonymous_reports_stay_separate(org, group_admin, head_sales, change):
    anonymous_report(org, group_admin)
    anonymous_report(org, head_sales, **change)
    assert sorted(Violation.objects.values_list("report_count", flat=True)) == [1, 1]


def test_a_report_hr_has_acted_on_is_not_counted_into(org, group_admin, head_sales, hr):
    first = anonymous_report(org, group_admin)
    services.confirm_violation(first, acting_user=hr)
    second = anonymous_report(org, head_sales)
    assert second.pk != first.pk and Violation.objects.get(pk=first.pk).report_count == 1


def test_named_reports_are_not_counted(org, group_admin, head_sales):
    named = services.report_violation(
        org["east_rep"], Rule.objects.get(code="B02"), WHEN, TEXT, acting_user=group_admin, group=org["sales_group"]
    )
    anonymous = anonymous_report(org, head_sales)
    assert named.pk != anonymous.pk and anonymous.report_count == 1


def test_only_anonymous_rows_may_carry_a_count(org, hr, existing):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Violation.objects.filter(pk=existing.pk).update(report_count=2)


def test_hr_sees_same_report_times_n_heads_do_not(client, org, hr, head_sales, group_admin, head_tech):
    anonymous_report(org, group_admin)
    anonymous_report(org, head_tech)
    client.force_login(hr)
    html = client.get(reverse("admin:violations_violation_changelist")).content.decode()
    assert "同一举报 ×2" in html
    violation = Violation.objects.get()
    page = client.get(reverse("admin:violations_violation_change", args=[violation.pk])).content.decode()
    assert "同一举报 ×2" in page
    assert api_for(hr).get(f"/api/v1/violations/{violation.pk}/").json()["report_count"] == 2
    client.force_login(head_sales)
    assert "同一举报" not in client.get(reverse("admin:violations_violation_changelist")).content.decode()
    assert api_for(head_sales).get(f"/api/v1/violations/{violation.pk}/").json()["report_count"] is None


def test_status_stays_reported_after_counting(org, group_admin, head_sales):
    anonymous_report(org, group_admin)
    anonymous_report(org, head_sales)
    assert Violation.objects.get().status == ViolationStatus.REPORTED


def test_hr_change_page_names_likely_duplicates_heads_do_not_see_it(client, org, hr, head_sales, django_user_model):
    """A plain employee's named report is not warned (they cannot see HR's record): HR sees the pair."""
    existing = services.record_violation(
        org["east_rep"], Rule.objects.get(code="B02"), WHEN, TEXT, acting_user=hr, group=org["sales_group"]
    )
    user = django_user_model.objects.create_user(username="colleague", password="x")
    org["ceo"].user = user
    org["ceo"].save()
    other = services.report_violation(
        org["east_rep"], existing.rule, WHEN, "骂人", acting_user=user, group=org["sales_group"]
    )
    client.force_login(hr)
    page = client.get(reverse("admin:violations_violation_change", args=[other.pk])).content.decode()
    assert "可能重复" in page
    assert reverse("admin:violations_violation_change", args=[existing.pk]) in page
    assert f"#{existing.pk} 张三 (E0101) · B02" in page
    client.force_login(head_sales)
    page = client.get(reverse("admin:violations_violation_change", args=[other.pk])).content.decode()
    assert "可能重复" not in page

"""Who sees which violations; what the audit trail records for each change."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError

from violations import services
from violations.choices import AppealStatus
from violations.models import Appeal, CompanySettings, Rule, Sanction, Violation, WorkdayOverride

from .conftest import at


@pytest.fixture
def three(org, sanction):
    return {
        "east": sanction("C04", at(2026, 11, 2, 10)),  # 华东区 employee, in the sales group
        "tech": sanction("C04", at(2026, 11, 2, 11), employee=org["tech_dev"], group=org["tech_group"]),
        "ceo": sanction("C04", at(2026, 11, 2, 12), employee=org["ceo"], group=None),
    }


def visible(user):
    return set(Violation.objects.visible_to(user).values_list("employee__name", flat=True))


def test_scoping_by_role(three, hr, auditor, head_sales, head_tech, group_admin, employee_user, outsider_user):
    assert visible(hr) == visible(auditor) == {"张三", "孙七", "王总"}
    assert visible(head_sales) == {"张三"}  # subtree: 销售部 and 华东区
    assert visible(head_tech) == {"孙七"}
    assert visible(group_admin) == {"张三", "孙七"}  # the sales group's violations + their own
    assert visible(employee_user) == {"张三"}
    assert visible(outsider_user) == set()
    assert Sanction.objects.visible_to(head_tech).count() == 1
    assert Appeal.objects.visible_to(outsider_user).count() == 0


def test_services_refuse_non_hr(three, head_sales, auditor):
    for user in (head_sales, auditor):
        with pytest.raises(PermissionDenied):
            services.dismiss_violation(three["east"], "x", acting_user=user)


def test_group_admin_records_removal_in_own_group_only(org, hr, group_admin, sanction):
    in_group = sanction("B02", at(2026, 11, 2, 10))
    elsewhere = sanction("B02", at(2026, 11, 2, 11), employee=org["tech_head"], group=org["tech_group"])
    services.record_removal_done(in_group.sanctions.get(kind="removal"), acting_user=group_admin)
    with pytest.raises(PermissionDenied):
        services.record_removal_done(elsewhere.sanctions.get(kind="removal"), acting_user=group_admin)
    with pytest.raises(ValidationError):
        services.record_removal_done(in_group.sanctions.get(kind="removal"), acting_user=hr)  # twice


def entries(obj):
    return list(LogEntry.objects.get_for_object(obj).order_by("pk"))


def test_audit_each_change_with_actor_channel_and_diff(hr, employee_user, org):
    violation = services.record_violation(
        org["east_rep"], Rule.objects.get(code="C04"), at(2026, 11, 2, 10), "x", acting_user=hr
    )
    services.confirm_violation(violation, acting_user=hr)
    services.apply_sanctions(violation, acting_user=hr, channel="api")
    services.mark_notified(violation, acting_user=hr)
    appeal = services.file_appeal(violation, "y", acting_user=employee_user)
    services.decide_appeal(appeal, AppealStatus.OVERTURNED, "z", acting_user=hr)
    log = entries(violation)
    assert [e.action for e in log] == [LogEntry.Action.CREATE] + [LogEntry.Action.UPDATE] * 5
    assert all(e.actor is not None for e in log)
    assert log[1].changes_dict["status"] == ["reported", "confirmed"]
    assert log[-1].changes_dict["status"] == ["appealed", "overturned"] and log[-1].actor == hr
    assert log[2].additional_data["channel"] == "api"
    sanction = violation.sanctions.get()
    assert [e.action for e in entries(sanction)] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert "withdrawn_at" in entries(sanction)[-1].changes_dict
    appeal_log = entries(appeal)
    assert appeal_log[0].actor == employee_user and appeal_log[0].additional_data["channel"] == "self_service"


def test_audit_settings_rules_overrides(hr):
    from portal.audit import audit_context

    with audit_context(hr, "admin"):
        settings = CompanySettings.load()
        settings.warnings_per_demerit = 4
        settings.save()
        rule = Rule.objects.get(code="C01")
        rule.is_active = False
        rule.save()
        WorkdayOverride.objects.create(date=datetime.date(2027, 1, 1), is_workday=False)
    assert entries(settings)[-1].changes_dict["warnings_per_demerit"] == ["3", "4"]
    assert entries(rule)[-1].actor == hr
    assert LogEntry.objects.filter(content_type__model="workdayoverride").count() == 1


def test_catalog_seeded():
    assert Rule.objects.count() == 26
    c06 = Rule.objects.get(code="C06")
    assert c06.repeat_threshold == 2 and c06.repeat_sanctions == [{"kind": "removal"}]
    assert Rule.objects.get(code="R01").fine_amount == 100
    assert {r.category for r in Rule.objects.all()} == {
        "content",
        "conduct",
        "confidentiality",
        "membership",
        "responsiveness",
    }
    settings = CompanySettings.load()
    assert (settings.warnings_per_demerit, settings.demerits_for_dismissal, settings.window_months) == (3, 3, 12)
    assert settings.points_for("warning") == 2 and settings.appeal_window_workdays == 5


pytestmark = pytest.mark.django_db


def test_admin_edit_of_settings_is_audited_with_channel(client, hr):
    from django.urls import reverse

    settings = CompanySettings.load()
    client.force_login(hr)
    url = reverse("admin:violations_companysettings_change", args=[settings.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(points_per_kind='{"warning": 3}', window_months=6)
    data["quiet_hours_start"], data["quiet_hours_end"] = "23:30", "07:30"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = entries(settings)[-1]
    assert entry.actor == hr and entry.additional_data["channel"] == "admin"
    assert entry.changes_dict["window_months"] == ["12", "6"]

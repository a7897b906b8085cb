"""A suspicion of chat detection (待核实) counts nowhere until a person confirms it: not on the
employee's pages, in the ladder, deductions, report, dashboard; then it is an ordinary violation.
Who may decide (HR; a group's admin for that group, never about themselves) and the audit trail."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from portal.api.testing import api_for, ids
from portal.dashboard import sections
from portal.dashboard.models import GroupMonthCell, ViolationCell
from portal.dashboard.rollups import refresh_group_cells, refresh_violation_cells
from violations import reports, services
from violations.choices import ViolationStatus
from violations.models import Rule, Sanction, Violation
from violations.reports.totals import totals as report_totals

from .conftest import at

pytestmark = pytest.mark.django_db

WHEN = at(2026, 11, 3, 23, 45)


def suspect(org, code="B06", employee=None, group=None, when=WHEN) -> Violation:
    return Violation.objects.create(
        employee=employee or org["east_rep"],
        group=group or org["sales_group"],
        rule=Rule.objects.get(code=code),
        occurred_at=when,
        description=f"{code} 系统检测",
        status=ViolationStatus.SUSPECTED,
        channel="detection",
    )


# --- counted nowhere -------------------------------------------------------------------------------


def test_the_employee_never_sees_their_own_suspicion(org, employee_user, client):
    suspicion = suspect(org)
    assert not Violation.objects.visible_to(employee_user).filter(pk=suspicion.pk).exists()
    assert ids(api_for(employee_user).get("/api/v1/violations/")) == []
    client.force_login(employee_user)
    assert "B06" not in client.get(reverse("violations:mine")).content.decode()
    services.confirm_violation(suspicion, acting_user=None)
    assert Violation.objects.visible_to(employee_user).filter(pk=suspicion.pk).exists()


def test_a_group_admin_never_sees_a_suspicion_about_themselves(org, group_admin, client):
    about_her = suspect(org, employee=org["tech_dev"])  # in the sales group she administers
    assert not Violation.objects.visible_to(group_admin).filter(pk=about_her.pk).exists()
    client.force_login(group_admin)
    assert client.get(reverse("violations:suspicion", args=[about_her.pk])).status_code == 404
    assert "B06" not in client.get(reverse("violations:mine")).content.decode()
    queue = client.get(reverse("work_queue")).content.decode()
    assert "B06" not in queue and about_her.description not in queue


def test_api_status_filter_is_scoped(org, hr, head_sales, head_tech):
    suspicion = suspect(org)
    suspect(org, employee=org["tech_dev"], group=org["tech_group"])
    url = "/api/v1/violations/?status=suspected"
    assert len(ids(api_for(hr).get(url))) == 2
    assert ids(api_for(head_sales).get(url)) == [suspicion.pk]
    assert suspicion.pk not in ids(api_for(head_tech).get(url))


def test_not_in_the_report_until_confirmed(org, hr):
    suspicion = suspect(org)
    params = reports.ReportParams(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
    report = lambda: reports.report_queryset(Violation.objects.visible_to(hr), params)  # noqa: E731
    assert not report().exists()
    services.confirm_violation(suspicion, acting_user=hr)
    services.apply_sanctions(suspicion, acting_user=hr)
    assert list(report()) == [suspicion]
    totals = list(report_totals(report(), ["employee__employee_no"]))
    assert totals[0][:3] == ("E0101", 1, 1)  # one violation, standing


def test_no_sanction_no_ladder_while_suspected(org, hr, sanction):
    sanction("C06", at(2026, 11, 1, 10))  # the first ad: a warning
    second = suspect(org, code="C06", when=at(2026, 11, 2, 10))
    with pytest.raises(ValidationError):
        services.apply_sanctions(second, acting_user=hr)
    services.recompute_escalation(org["east_rep"], acting_user=hr)
    assert not Sanction.objects.filter(is_derived=True).exists()  # the repeat rule did not count it
    services.confirm_violation(second, acting_user=hr)
    services.apply_sanctions(second, acting_user=hr)
    assert Sanction.objects.filter(is_derived=True, kind="removal", withdrawn_at__isnull=True).exists()


def test_dashboard_counts_and_rollups_leave_suspicions_out(org, hr):
    suspect(org)
    suspect(org, code="C09")
    refresh_violation_cells()
    refresh_group_cells()
    assert not ViolationCell.objects.exists() and not GroupMonthCell.objects.exists()
    area = sections.resolve_area(hr, None)
    assert sections.violation_summary(hr, area, datetime.date(2026, 11, 1))["total"] == 0
    assert sections.suspected_pending(hr, area) == 2
    assert Violation.objects.standing().count() == 0 and Violation.objects.counted().count() == 0


def test_dashboard_tile_and_list(org, hr, head_sales, head_tech, client):
    suspicion = suspect(org)
    client.force_login(head_sales)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="suspected-pending"' in page and "待核实" in page
    listing = client.get(reverse("dashboard_violations") + "?status=suspected").content.decode()
    assert suspicion.description in listing or "B06" in listing
    assert "B06" not in client.get(reverse("dashboard_violations")).content.decode()  # not a violation yet
    client.force_login(head_tech)
    assert "B06" not in client.get(reverse("dashboard_violations") + "?status=suspected").content.decode()


# --- deciding --------------------------------------------------------------------------------------


def test_hr_confirms_and_it_is_audited(org, hr):
    suspicion = suspect(org)
    services.confirm_violation(suspicion, acting_user=hr)
    suspicion.refresh_from_db()
    assert suspicion.status == ViolationStatus.CONFIRMED
    entry = LogEntry.objects.get_for_object(suspicion).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.actor == hr and entry.changes_dict["status"] == ["suspected", "confirmed"]


def test_a_group_admin_decides_their_own_groups_only(org, group_admin):
    mine = suspect(org)  # the sales group, which 孙七 administers
    other = suspect(org, group=org["tech_group"])
    about_herself = suspect(org, employee=org["tech_dev"])
    services.dismiss_violation(mine, "误报:值班通知", acting_user=group_admin)
    mine.refresh_from_db()
    assert mine.status == ViolationStatus.DISMISSED and mine.dismissed_reason == "误报:值班通知"
    with pytest.raises(PermissionDenied):
        services.confirm_violation(other, acting_user=group_admin)
    with pytest.raises(PermissionDenied):
        services.confirm_violation(about_herself, acting_user=group_admin)
    recorded = services.record_violation(
        org["east_rep"], Rule.objects.get(code="C04"), WHEN, "人工记录", acting_user=None, group=org["sales_group"]
    )
    with pytest.raises(PermissionDenied):  # reported (not suspected) ones stay HR's
        services.confirm_violation(recorded, acting_user=group_admin)


def test_dismiss_needs_a_reason(org, hr):
    with pytest.raises(ValidationError):
        services.dismiss_violation(suspect(org), "  ", acting_user=hr)


def test_phone_pages_for_the_group_admin(org, group_admin, client):
    mine, other = suspect(org), suspect(org, group=org["tech_group"])
    client.force_login(group_admin)
    listing = client.get(reverse("violations:suspicions")).content.decode()
    assert f'data-violation="{mine.pk}"' in listing and f'data-violation="{other.pk}"' not in listing
    assert client.get(reverse("violations:suspicion", args=[other.pk])).status_code == 404
    assert client.post(reverse("violations:suspicion_confirm", args=[other.pk])).status_code == 404
    assert client.get(reverse("violations:suspicion", args=[mine.pk])).status_code == 200
    response = client.post(reverse("violations:suspicion_dismiss", args=[mine.pk]), {"reason": ""})
    assert response.status_code == 400
    response = client.post(reverse("violations:suspicion_confirm", args=[mine.pk]))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == ViolationStatus.CONFIRMED
    entry = LogEntry.objects.get_for_object(mine).latest("timestamp")
    assert entry.actor == group_admin
    queue = client.get(reverse("work_queue")).content.decode()
    assert 'data-testid="suspicions-link"' in queue


def test_queue_shows_the_groups_suspicions(org, group_admin, client):
    suspicion = suspect(org)
    client.force_login(group_admin)
    page = client.get(reverse("work_queue")).content.decode()
    assert reverse("violations:suspicion", args=[suspicion.pk]) in page


def test_admin_filter_and_bulk_actions(org, hr, client):
    first, second = suspect(org), suspect(org, code="C09")
    client.force_login(hr)
    url = reverse("admin:violations_violation_changelist")
    page = client.get(url + "?status__exact=suspected").content.decode()
    assert "待核实" in page
    client.post(url, {"action": "confirm_selected", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == ViolationStatus.CONFIRMED
    form = client.post(url, {"action": "dismiss_selected", "_selected_action": [second.pk]})
    assert form.status_code == 200 and "理由" in form.content.decode()
    client.post(url, {"action": "dismiss_selected", "_selected_action": [second.pk], "reason": "已核实无此事"})
    second.refresh_from_db()
    assert second.status == ViolationStatus.DISMISSED

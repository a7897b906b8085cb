"""Appeals on China's working-day calendar; overdue flags; pending appeals and deductions."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from violations import services
from violations.choices import AppealStatus, SanctionKind, ViolationStatus
from violations.models import Appeal, Sanction, WorkdayOverride
from violations.workdays import add_workdays, is_workday, workdays_between

from .conftest import at

D = datetime.date
pytestmark = pytest.mark.django_db


def test_national_day_2026_deadline():
    # 10-01..10-07 holiday; Saturday 10-10 is a worked day (调休): 10-08, 10-09, 10-10, 10-12, 10-13.
    assert add_workdays(D(2026, 9, 30), 5) == D(2026, 10, 13)


def test_adjusted_weekend_counts_as_workday():
    assert is_workday(D(2026, 10, 10))  # Saturday, worked
    assert not is_workday(D(2026, 10, 5))  # Monday, holiday
    assert add_workdays(D(2026, 10, 9), 1) == D(2026, 10, 10)


def test_mid_autumn_before_national_day():
    # 2026-09-25 (Fri) .. 09-27 off: from Thursday 09-24, the first working day is Monday 09-28.
    assert add_workdays(D(2026, 9, 24), 1) == D(2026, 9, 28)


def test_spring_festival_2026():
    import chinese_calendar

    start = D(2026, 2, 13)
    expected = list(chinese_calendar.get_workdays(start + datetime.timedelta(days=1), D(2026, 3, 31)))[4]
    assert add_workdays(start, 5) == expected


def test_override_wins_over_package(db):
    WorkdayOverride.objects.create(date=D(2026, 10, 8), is_workday=False, note="公司额外放假")
    WorkdayOverride.objects.create(date=D(2026, 10, 11), is_workday=True, note="公司加班日")
    assert add_workdays(D(2026, 9, 30), 5) == D(2026, 10, 13)  # one day lost, one gained
    assert add_workdays(D(2026, 9, 30), 1) == D(2026, 10, 9)


def test_unknown_year_uses_weekdays_and_overrides(db):
    assert add_workdays(D(2031, 1, 3), 1) == D(2031, 1, 6)  # Friday → Monday
    WorkdayOverride.objects.create(date=D(2031, 1, 6), is_workday=False, note="2031 元旦调休")
    assert add_workdays(D(2031, 1, 3), 1) == D(2031, 1, 7)


def test_workdays_between():
    assert workdays_between(D(2026, 9, 30), D(2026, 10, 13)) == 5
    assert workdays_between(D(2026, 10, 13), D(2026, 9, 30)) == 0


def test_add_workdays_rejects_zero():
    with pytest.raises(ValueError):
        add_workdays(D(2026, 1, 1), 0)


@pytest.fixture
def notified(hr, sanction):
    violation = sanction("C04", at(2026, 9, 29, 10))
    return services.mark_notified(violation, acting_user=hr, at=at(2026, 9, 30, 16))


def test_notify_sets_deadline_across_national_day(notified):
    assert notified.appeal_deadline == D(2026, 10, 13)


def test_employee_files_within_window_and_decision_due(employee_user, notified):
    appeal = services.file_appeal(notified, "不是我发的", acting_user=employee_user, at=at(2026, 10, 13, 20))
    assert appeal.decision_due == D(2026, 10, 20)
    assert not appeal.on_behalf and not appeal.filed_late
    notified.refresh_from_db()
    assert notified.status == ViolationStatus.APPEALED


def test_employee_cannot_file_late(employee_user, notified):
    with pytest.raises(ValidationError) as exc:
        services.file_appeal(notified, "晚了", acting_user=employee_user, at=at(2026, 10, 14, 9))
    assert "2026-10-13" in str(exc.value)
    assert not Appeal.objects.exists()


def test_hr_files_late_on_behalf_flagged(hr, notified):
    appeal = services.file_appeal(notified, "员工出差", acting_user=hr, at=at(2026, 10, 15, 9))
    assert appeal.on_behalf and appeal.filed_late


def test_other_employee_cannot_appeal(group_admin, notified):
    with pytest.raises(PermissionDenied):
        services.file_appeal(notified, "x", acting_user=group_admin, at=at(2026, 10, 9, 9))


def test_cannot_appeal_before_notice(employee_user, sanction):
    violation = sanction("C04", at(2026, 9, 29, 10))
    with pytest.raises(ValidationError):
        services.file_appeal(violation, "x", acting_user=employee_user)


def test_overdue_decision_flagged(employee_user, notified):
    appeal = services.file_appeal(notified, "不是我", acting_user=employee_user, at=at(2026, 10, 9, 9))
    assert appeal.decision_due == D(2026, 10, 15)  # 10-10 (Saturday) is a worked day
    assert not Appeal.objects.overdue(D(2026, 10, 15)).exists()
    assert list(Appeal.objects.overdue(D(2026, 10, 16))) == [appeal]
    assert appeal.is_overdue(D(2026, 10, 16))


def test_overturn_withdraws_sanctions_and_derived(org, hr, employee_user, sanction):
    sanction("C04", at(2026, 9, 1, 10))
    sanction("C04", at(2026, 9, 2, 10))
    third = services.mark_notified(sanction("C04", at(2026, 9, 29, 10)), acting_user=hr, at=at(2026, 9, 30, 9))
    assert Sanction.objects.filter(is_derived=True, withdrawn_at__isnull=True).count() == 3
    appeal = services.file_appeal(third, "群里是同名同事", acting_user=employee_user, at=at(2026, 10, 8, 9))
    services.decide_appeal(appeal, AppealStatus.OVERTURNED, "核实为他人", acting_user=hr)
    third.refresh_from_db()
    assert third.status == ViolationStatus.OVERTURNED
    assert not Sanction.objects.filter(violation=third, withdrawn_at__isnull=True).exists()
    assert Sanction.objects.filter(violation=third).count() == 4  # history kept: warning + 3 derived
    assert all("撤" in s.withdrawn_reason or "不再成立" in s.withdrawn_reason for s in third.sanctions.all())


def test_upheld_keeps_sanctions(hr, employee_user, notified):
    appeal = services.file_appeal(notified, "x", acting_user=employee_user, at=at(2026, 10, 8, 9))
    services.decide_appeal(appeal, AppealStatus.UPHELD, "证据充分", acting_user=hr)
    notified.refresh_from_db()
    assert notified.status == ViolationStatus.UPHELD
    assert notified.sanctions.filter(withdrawn_at__isnull=True).count() == 1
    with pytest.raises(ValidationError):
        services.decide_appeal(appeal, AppealStatus.OVERTURNED, "again", acting_user=hr)


def test_decide_requires_reason_and_hr(hr, employee_user, notified):
    appeal = services.file_appeal(notified, "x", acting_user=employee_user, at=at(2026, 10, 8, 9))
    with pytest.raises(ValidationError):
        services.decide_appeal(appeal, AppealStatus.UPHELD, "  ", acting_user=hr)
    with pytest.raises(PermissionDenied):
        services.decide_appeal(appeal, AppealStatus.UPHELD, "ok", acting_user=employee_user)


def test_pending_appeal_does_not_count_for_deductions_until_decided(hr, employee_user, notified):
    september = D(2026, 9, 1)
    assert Sanction.objects.effective_for_month(september).count() == 1
    appeal = services.file_appeal(notified, "x", acting_user=employee_user, at=at(2026, 10, 8, 9))
    assert Sanction.objects.effective_for_month(september).count() == 0
    assert Sanction.objects.active().count() == 1  # the ladder still counts it
    services.decide_appeal(appeal, AppealStatus.UPHELD, "证据充分", acting_user=hr)
    assert list(Sanction.objects.effective_for_month(september).values_list("kind", flat=True)) == [
        SanctionKind.WARNING
    ]
    assert Sanction.objects.effective_for_month(D(2026, 10, 1)).count() == 0


def test_derived_sanction_paused_while_a_cause_is_appealed(org, hr, employee_user, sanction):
    first = services.mark_notified(sanction("C04", at(2026, 9, 1, 10)), acting_user=hr, at=at(2026, 9, 1, 12))
    sanction("C04", at(2026, 9, 2, 10))
    sanction("C04", at(2026, 9, 3, 10))
    assert Sanction.objects.counting().filter(is_derived=True).count() == 3
    services.file_appeal(first, "x", acting_user=employee_user, at=at(2026, 9, 2, 9))
    assert Sanction.objects.counting().filter(is_derived=True).count() == 0


def test_month_bounds_use_shanghai_time(hr, sanction):
    sanction("C04", at(2026, 10, 1, 0, 30))  # 2026-09-30 16:30 UTC, but October in Shanghai
    assert Sanction.objects.effective_for_month(D(2026, 10, 1)).count() == 1
    assert Sanction.objects.effective_for_month(D(2026, 9, 1)).count() == 0

"""Closing a month freezes it; later changes become adjustment rows in the next open month."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from violations import services
from violations.choices import AppealStatus, DeductionKind, MonthStatus
from violations.deductions import close_month, compute_month
from violations.models import PerformanceDeduction, PerformanceMonth

from .conftest import at

AUG, SEP, OCT, NOV = (datetime.date(2026, m, 1) for m in (8, 9, 10, 11))
pytestmark = pytest.mark.django_db


def adjustments(month):
    return list(
        PerformanceDeduction.objects.filter(month=month, kind=DeductionKind.ADJUSTMENT).order_by(
            "employee_id", "adjusts_month"
        )
    )


def regular(month, employee):
    return PerformanceDeduction.objects.get(month=month, kind=DeductionKind.REGULAR, employee=employee)


@pytest.fixture
def appealed(org, hr, sanction):
    """A sanctioned, notified October warning (2 points) of 张三 and a helper to appeal and decide it."""
    violation = sanction("C06", at(2026, 10, 5, 10, 0))
    services.mark_notified(violation, acting_user=hr, at=at(2026, 10, 5, 12, 0))

    def appeal():
        return services.file_appeal(violation, "不是广告", acting_user=hr, at=at(2026, 10, 6, 9, 0))

    return violation, appeal


def test_closed_month_is_frozen(org, hr, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0))
    result = close_month(OCT, acting_user=hr)
    period = PerformanceMonth.objects.get(month=OCT)
    assert result.closed and period.status == MonthStatus.CLOSED and period.closed_by == hr
    assert regular(OCT, org["east_rep"]).points_deducted == 2
    with pytest.raises(ValidationError, match="已关账") as exc:
        compute_month(OCT, acting_user=hr)
    assert "month" in exc.value.message_dict
    with pytest.raises(ValidationError, match="已关账"):
        close_month(OCT, acting_user=hr)


def test_a_month_not_over_cannot_be_closed(org, hr):
    from django.utils import timezone

    with pytest.raises(ValidationError, match="尚未结束"):
        close_month(timezone.localdate(), acting_user=hr)
    assert not PerformanceMonth.objects.exists()


def test_overturn_after_close_is_an_adjustment_in_the_next_open_month(org, hr, appealed):
    violation, appeal = appealed
    close_month(OCT, acting_user=hr)
    assert regular(OCT, org["east_rep"]).final_score == 98

    pending = appeal()
    compute_month(NOV, acting_user=hr)
    assert adjustments(NOV) == []  # pending: the closed month keeps what it booked until decided

    services.decide_appeal(pending, AppealStatus.OVERTURNED, "证据不足", acting_user=hr)
    result = compute_month(NOV, acting_user=hr)
    [row] = adjustments(NOV)
    assert (row.employee, row.adjusts_month) == (org["east_rep"], OCT)
    assert (row.points_deducted, row.score_delta, row.final_score, row.forfeit) == (-2, 2, 100, False)
    assert [entry["violation"] for entry in row.breakdown["removed"]] == [violation.pk]
    assert row.breakdown["added"] == [] and row.breakdown["before"]["final_score"] == 98
    assert result.adjustments == 1
    assert regular(OCT, org["east_rep"]).final_score == 98  # the frozen row is untouched
    assert regular(NOV, org["east_rep"]).points_deducted == 0

    again = compute_month(NOV, acting_user=hr)
    assert again.rows_written == 0 and len(adjustments(NOV)) == 1


def test_appeal_pending_at_close_upheld_later_is_booked_then(org, hr, appealed):
    _, appeal = appealed
    pending = appeal()
    close_month(OCT, acting_user=hr)
    assert regular(OCT, org["east_rep"]).points_deducted == 0  # pending at close: not counted
    compute_month(NOV, acting_user=hr)
    assert adjustments(NOV) == []

    services.decide_appeal(pending, AppealStatus.UPHELD, "广告属实", acting_user=hr)
    compute_month(NOV, acting_user=hr)
    [row] = adjustments(NOV)
    assert (row.points_deducted, row.score_delta, row.final_score) == (2, -2, 98)
    assert row.breakdown["added"][0]["rule"] == "C06"


def test_late_violation_and_fine_after_close(org, hr, sanction):
    close_month(OCT, acting_user=hr)
    sanction("R01", at(2026, 10, 30, 18, 0), employee=org["tech_dev"])  # recorded in November
    sanction("C07", at(2026, 10, 30, 19, 0), employee=org["tech_dev"])  # demerit + forfeit
    compute_month(NOV, acting_user=hr)
    [row] = adjustments(NOV)
    assert row.employee == org["tech_dev"] and row.adjusts_month == OCT
    assert (row.fines_total, row.points_deducted, row.forfeit, row.final_score, row.score_delta) == (
        Decimal("100.00"),
        10,
        True,
        0,
        -100,
    )


def test_adjustment_disappears_when_the_change_is_undone_before_the_month_closes(org, hr, sanction):
    close_month(OCT, acting_user=hr)
    late = sanction("C06", at(2026, 10, 30, 18, 0))
    compute_month(NOV, acting_user=hr)
    assert len(adjustments(NOV)) == 1
    services.dismiss_violation(late, "重复登记", acting_user=hr)
    result = compute_month(NOV, acting_user=hr)
    assert adjustments(NOV) == [] and result.rows_deleted == 1


def test_adjustments_already_booked_elsewhere_are_not_repeated(org, hr, sanction):
    close_month(AUG, acting_user=hr)
    sanction("C06", at(2026, 8, 20, 10, 0))  # late for August
    compute_month(SEP, acting_user=hr)
    compute_month(OCT, acting_user=hr)  # September (open) already carries it: October must not
    assert len(adjustments(SEP)) == 1 and adjustments(OCT) == []

    close_month(SEP, acting_user=hr)
    sanction("B03", at(2026, 8, 21, 10, 0))  # another late August warning
    compute_month(OCT, acting_user=hr)
    [row] = adjustments(OCT)
    assert row.adjusts_month == AUG and [e["rule"] for e in row.breakdown["added"]] == ["B03"]
    assert row.breakdown["before"]["points"] == 2  # the frozen September adjustment counts as booked
    assert (row.points_deducted, row.final_score, row.score_delta) == (2, 96, -2)
    compute_month(OCT, acting_user=hr)
    assert len(adjustments(OCT)) == 1


def test_withdrawn_ladder_step_after_close_is_given_back(org, hr, sanction):
    # Three warnings in October derive a demerit (+ forfeit); overturning one after close withdraws it.
    first = sanction("C04", at(2026, 10, 2, 10, 0))
    sanction("C05", at(2026, 10, 3, 10, 0))
    sanction("B03", at(2026, 10, 4, 10, 0))
    close_month(OCT, acting_user=hr)
    frozen = regular(OCT, org["east_rep"])
    assert frozen.forfeit and frozen.final_score == 0

    services.mark_notified(first, acting_user=hr)
    appeal = services.file_appeal(first, "非本人发布", acting_user=hr)
    services.decide_appeal(appeal, AppealStatus.OVERTURNED, "账号被盗", acting_user=hr)
    compute_month(NOV, acting_user=hr)
    [row] = adjustments(NOV)
    assert not row.forfeit and row.final_score == 96 and row.score_delta == 96
    assert {e["kind"] for e in row.breakdown["removed"]} >= {"warning", "demerit", "forfeit_month"}


def test_appeal_pending_at_close_overturned_later_changes_nothing(org, hr, appealed):
    _, appeal = appealed
    pending = appeal()
    close_month(OCT, acting_user=hr)
    services.decide_appeal(pending, AppealStatus.OVERTURNED, "证据不足", acting_user=hr)
    compute_month(NOV, acting_user=hr)
    assert adjustments(NOV) == []  # never booked, never counted: nothing to give back
    assert regular(OCT, org["east_rep"]).final_score == 100

"""The deduction rules one at a time: month parsing, the score formula, totals, rows and adjustments,
who is active in a month. Each test pins one behaviour a one-character change would break
(see scripts/mutation.py)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from groups.models import Employee
from portal.months import parse_month, previous_month
from violations.choices import DeductionKind, SanctionKind
from violations.deductions import compute_month, final_score
from violations.deductions.adjustments import adjustment_row, booked_state
from violations.deductions.compute import _checked_month
from violations.deductions.rows import active_employees as _active_employees
from violations.deductions.rows import regular_row, totals
from violations.deductions.upsert import _on_conflict
from violations.models import CompanySettings, PerformanceDeduction

D = datetime.date
OCT = D(2026, 10, 1)
NOW = timezone.now()


def entry(sanction, points=0, amount=None, kind=SanctionKind.WARNING):
    return {"sanction": sanction, "points": points, "amount": amount, "kind": kind}


@pytest.mark.parametrize(
    ("text", "month"),
    [("2026-10", OCT), (" 2026-10 ", OCT), ("2026-1", D(2026, 1, 1)), ("2026-12", D(2026, 12, 1))],
)
def test_parse_month_accepts_months_1_to_12(text, month):
    assert parse_month(text) == month


@pytest.mark.parametrize("text", ["2026-13", "2026-0", "2026-00", "26-10", "2026/10", "", None])
def test_parse_month_names_the_field_for_anything_else(text):
    with pytest.raises(ValidationError) as exc:
        parse_month(text)
    assert list(exc.value.message_dict) == ["month"]


def test_parse_month_takes_any_date_of_the_month():
    assert parse_month(D(2026, 10, 31)) == OCT


def test_previous_month():
    assert previous_month(D(2026, 3, 1)) == D(2026, 2, 1)
    assert previous_month(D(2026, 3, 31)) == D(2026, 2, 1)
    assert previous_month(D(2026, 1, 15)) == D(2025, 12, 1)


@pytest.mark.django_db
def test_the_current_month_may_be_computed_a_future_one_not():
    this_month = timezone.localdate().replace(day=1)
    assert _checked_month(this_month) == this_month
    next_month = (this_month + datetime.timedelta(days=32)).replace(day=1)
    with pytest.raises(ValidationError):
        _checked_month(next_month)


@pytest.mark.parametrize(
    ("base", "points", "forfeit", "score"),
    [(100, 30, False, 70), (100, 100, False, 0), (100, 130, False, 0), (100, 0, True, 0), (100, 0, False, 100)],
)
def test_final_score_is_base_minus_points_floored_at_zero_or_zero_on_forfeit(base, points, forfeit, score):
    assert final_score(base, points, forfeit) == score


def test_totals_add_points_and_fines_and_see_a_forfeit():
    result = totals([entry(1, 2), entry(2, 3, "100.50", SanctionKind.FINE), entry(3, 0, None)])
    assert (result.points, result.fines, result.forfeit) == (5, Decimal("100.50"), False)
    assert totals([entry(1, 0, None, SanctionKind.FORFEIT_MONTH)]).forfeit is True
    assert totals([]) == totals([]) and totals([]).fines == Decimal("0.00") and totals([]).points == 0


def test_regular_row():
    items = [entry(1, 10, "50.00"), entry(2, 5)]
    row = regular_row(7, OCT, 100, items, NOW)
    assert row == {
        "employee_id": 7,
        "month": OCT,
        "kind": DeductionKind.REGULAR,
        "adjusts_month": None,
        "base_score": 100,
        "points_deducted": 15,
        "forfeit": False,
        "fines_total": Decimal("50.00"),
        "final_score": 85,
        "score_delta": 0,
        "sanction_count": 2,
        "breakdown": {"sanctions": items},
        "computed_at": NOW,
    }


def test_adjustment_row_books_the_difference():
    before = {1: entry(1, 10, "20.00"), 2: entry(2, 5)}
    after = {2: before[2], 3: entry(3, 30, "5.00"), 4: entry(4, 1)}
    row = adjustment_row(7, D(2026, 11, 1), OCT, 100, before, after, NOW)
    assert row["kind"] == DeductionKind.ADJUSTMENT and row["adjusts_month"] == OCT and row["month"] == D(2026, 11, 1)
    assert row["points_deducted"] == 36 - 15
    assert row["fines_total"] == Decimal("5.00") - Decimal("20.00")
    assert (row["final_score"], row["score_delta"]) == (64, 64 - 85)
    assert row["sanction_count"] == 3  # two added, one removed
    assert [e["sanction"] for e in row["breakdown"]["added"]] == [3, 4]
    assert [e["sanction"] for e in row["breakdown"]["removed"]] == [1]
    assert row["breakdown"]["before"] == {"points": 15, "fines": "20.00", "forfeit": False, "final_score": 85}


def test_adjustment_row_of_a_forfeit_given_back():
    before = {1: entry(1, 0, None, SanctionKind.FORFEIT_MONTH)}
    row = adjustment_row(7, D(2026, 11, 1), OCT, 100, before, {}, NOW)
    assert (row["forfeit"], row["final_score"], row["score_delta"]) == (False, 100, 100)
    assert row["breakdown"]["before"]["forfeit"] is True


def test_on_conflict_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="bogus"):
        _on_conflict(("employee_id", "month"), "bogus")


@pytest.mark.django_db
def test_active_in_the_month_by_hire_and_departure_dates(org):
    ids = {"ceo": org["ceo"], "rep": org["east_rep"], "dev": org["tech_dev"], "head": org["tech_head"]}
    Employee.objects.filter(pk=ids["ceo"].pk).update(hire_date=D(2026, 10, 31))  # hired on the last day: in
    Employee.objects.filter(pk=ids["rep"].pk).update(hire_date=D(2026, 11, 1))  # hired after: out
    Employee.objects.filter(pk=ids["dev"].pk).update(status="departed", departure_date=OCT)  # left on the 1st: in
    Employee.objects.filter(pk=ids["head"].pk).update(status="departed", departure_date=D(2026, 9, 30))  # out
    active = set(_active_employees(OCT).values_list("employee_no", flat=True))
    assert active == {"E0001", "E0100", "E0201"}  # 赵六 (departed, no date) is out too


@pytest.mark.django_db
def test_booked_state_of_a_month_without_rows_takes_the_current_base():
    settings = CompanySettings.load()
    settings.base_monthly_score = 120
    settings.save()
    assert booked_state(OCT, exclude_month=D(2026, 11, 1)) == (120, {})


@pytest.mark.django_db
def test_booked_state_reads_frozen_rows_then_adjustments_in_month_order(org):
    rep = org["east_rep"]

    def make(month, kind, breakdown, count, adjusts=None, base=90):
        PerformanceDeduction.objects.create(
            employee=rep, month=month, kind=kind, adjusts_month=adjusts, base_score=base,
            points_deducted=0, final_score=base, sanction_count=count, breakdown=breakdown, computed_at=NOW,
        )  # fmt: skip

    make(OCT, DeductionKind.REGULAR, {"sanctions": [entry(1, 2), entry(2, 3)]}, 2)
    make(D(2026, 11, 1), DeductionKind.ADJUSTMENT, {"added": [entry(3, 4)], "removed": [entry(1, 2)]}, 2, OCT)
    make(D(2026, 12, 1), DeductionKind.ADJUSTMENT, {"added": [entry(1, 2)], "removed": [entry(3, 4)]}, 2, OCT)
    base, state = booked_state(OCT, exclude_month=D(2027, 1, 1))
    assert base == 90 and sorted(state[rep.pk]) == [1, 2]
    base, state = booked_state(OCT, exclude_month=D(2026, 12, 1))  # December's own adjustment is left out
    assert sorted(state[rep.pk]) == [2, 3]


@pytest.mark.django_db
def test_employees_without_sanctions_get_the_base_score(org, hr):
    settings = CompanySettings.load()
    settings.base_monthly_score = 95
    settings.save()
    compute_month(OCT, acting_user=hr)
    row = PerformanceDeduction.objects.get(employee=org["ceo"], month=OCT)
    assert (row.base_score, row.final_score, row.points_deducted, row.sanction_count) == (95, 95, 0, 0)
    assert (row.forfeit, row.fines_total, row.breakdown) == (False, Decimal("0.00"), {"sanctions": []})


@pytest.mark.django_db
def test_a_month_can_be_closed_from_the_first_instant_after_it(org, hr, monkeypatch):
    from violations.deductions import close_month
    from violations.querysets import month_bounds

    end = month_bounds(OCT)[1]
    monkeypatch.setattr(timezone, "now", lambda: end - datetime.timedelta(microseconds=1))
    with pytest.raises(ValidationError, match="尚未结束"):
        close_month(OCT, acting_user=hr)
    monkeypatch.setattr(timezone, "now", lambda: end)
    assert close_month(OCT, acting_user=hr).closed


@pytest.mark.django_db
def test_breakdown_lists_sanctions_by_occurrence_then_id(org, hr, sanction):
    from .conftest import at

    later = sanction("C06", at(2026, 10, 20, 10))  # a warning
    earlier = sanction("R01", at(2026, 10, 3, 10), sanctions=[{"kind": "fine", "amount": "10.00"}, {"kind": "warning"}])
    compute_month(OCT, acting_user=hr)
    row = PerformanceDeduction.objects.get(employee=org["east_rep"], month=OCT)
    listed = [(e["violation"], e["kind"]) for e in row.breakdown["sanctions"]]
    first_two = sorted(earlier.sanctions.values_list("pk", "kind"))
    assert listed == [(earlier.pk, kind) for _pk, kind in first_two] + [(later.pk, "warning")]


@pytest.mark.django_db
def test_result_counts_of_a_run_with_adjustments(org, hr, sanction):
    from violations import services
    from violations.deductions import close_month

    from .conftest import at

    one = sanction("C06", at(2026, 9, 5, 10))
    close_month(D(2026, 9, 1), acting_user=hr)
    services.dismiss_violation(one, "误报", acting_user=hr)
    result = compute_month(OCT, acting_user=hr)
    regular = PerformanceDeduction.objects.filter(month=OCT, kind=DeductionKind.REGULAR).count()
    assert (result.employees, result.adjustments, result.rows_deleted) == (regular, 1, 0)
    assert result.rows_written == regular + 1  # every regular row is new, plus the adjustment
    again = compute_month(OCT, acting_user=hr)
    assert (again.employees, again.adjustments, again.rows_written, again.rows_deleted) == (regular, 1, 0, 0)


@pytest.mark.django_db
def test_a_closed_month_with_a_single_sanction_is_adjusted_when_it_is_withdrawn(org, hr, sanction):
    from violations import services
    from violations.deductions import close_month

    from .conftest import at

    only = sanction("C06", at(2026, 9, 5, 10))
    close_month(D(2026, 9, 1), acting_user=hr)
    services.dismiss_violation(only, "误报", acting_user=hr)
    compute_month(OCT, acting_user=hr)
    adjustment = PerformanceDeduction.objects.get(month=OCT, kind=DeductionKind.ADJUSTMENT)
    assert (adjustment.employee, adjustment.adjusts_month) == (org["east_rep"], D(2026, 9, 1))
    assert (adjustment.points_deducted, adjustment.score_delta, adjustment.sanction_count) == (-2, 2, 1)


@pytest.mark.django_db
def test_the_audit_entry_sums_the_run_up(org, hr):
    from auditlog.models import LogEntry

    from violations.models import PerformanceMonth

    result = compute_month(OCT, acting_user=hr)
    entry = LogEntry.objects.get_for_object(PerformanceMonth.objects.get(month=OCT)).latest("timestamp")
    summary = f"计算绩效扣分 2026-10: {result.employees} 名员工, {result.rows_written} 行写入, 0 行删除, 0 条调整"
    assert entry.changes_dict["deductions"] == ["", summary]
    assert entry.additional_data["deductions"] == result.as_dict()


@pytest.mark.django_db
def test_stale_rows_are_deleted_only_in_the_computed_month_and_only_regular_ones(org, hr, sanction):
    from violations import services
    from violations.deductions import close_month

    from .conftest import at

    # 赵六 left before October: an adjustment of September is his only October row
    Employee.objects.filter(pk=org["east_departed"].pk).update(departure_date=D(2026, 9, 30))
    gone = sanction("C06", at(2026, 9, 5, 10), employee=org["east_departed"])
    close_month(D(2026, 9, 1), acting_user=hr)
    services.dismiss_violation(gone, "误报", acting_user=hr)
    first = compute_month(OCT, acting_user=hr)
    adjustment = PerformanceDeduction.objects.get(month=OCT, kind=DeductionKind.ADJUSTMENT)
    assert adjustment.employee_id == org["east_departed"].pk and first.rows_deleted == 0
    compute_month(D(2026, 11, 1), acting_user=hr)  # November rows exist too
    november = set(PerformanceDeduction.objects.filter(month=D(2026, 11, 1)).values_list("pk", flat=True))
    again = compute_month(OCT, acting_user=hr)
    assert (again.rows_written, again.rows_deleted) == (0, 0)
    assert PerformanceDeduction.objects.get(month=OCT, kind=DeductionKind.ADJUSTMENT).pk == adjustment.pk
    assert set(PerformanceDeduction.objects.filter(month=D(2026, 11, 1)).values_list("pk", flat=True)) == november


@pytest.mark.django_db
def test_open_earlier_months_get_no_adjustments(org, hr, sanction):
    from violations import services

    from .conftest import at

    september = sanction("C06", at(2026, 9, 5, 10))
    compute_month(D(2026, 9, 1), acting_user=hr)  # computed, not closed
    services.dismiss_violation(september, "误报", acting_user=hr)
    assert compute_month(OCT, acting_user=hr).adjustments == 0
    assert not PerformanceDeduction.objects.filter(kind=DeductionKind.ADJUSTMENT).exists()


@pytest.mark.django_db
def test_each_closed_month_is_compared_with_its_own_rows(org, hr, sanction):
    from violations.deductions import close_month

    from .conftest import at

    sanction("C06", at(2026, 8, 5, 10))
    close_month(D(2026, 8, 1), acting_user=hr)
    sanction("C04", at(2026, 9, 5, 10))
    close_month(D(2026, 9, 1), acting_user=hr)
    assert compute_month(OCT, acting_user=hr).adjustments == 0


@pytest.mark.django_db
def test_the_audit_entry_names_deleted_rows_and_adjustments_apart(org, hr):
    from auditlog.models import LogEntry

    from violations.models import PerformanceMonth

    compute_month(OCT, acting_user=hr)
    Employee.objects.filter(pk=org["ceo"].pk).update(hire_date=D(2026, 11, 3))
    result = compute_month(OCT, acting_user=hr)
    entry = LogEntry.objects.get_for_object(PerformanceMonth.objects.get(month=OCT)).latest("timestamp")
    assert result.rows_deleted == 1
    assert entry.changes_dict["deductions"][1].endswith(", 0 行写入, 1 行删除, 0 条调整")

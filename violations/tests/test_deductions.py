"""Monthly deductions: arithmetic, who gets a row, month boundary, recompute idempotency, scoping."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError

from portal.months import parse_month, previous_month
from violations import services
from violations.choices import DeductionKind, MonthStatus, SanctionKind
from violations.deductions import compute_month
from violations.models import CompanySettings, PerformanceDeduction, PerformanceMonth

from .conftest import at

OCT = datetime.date(2026, 10, 1)
NOV = datetime.date(2026, 11, 1)
pytestmark = pytest.mark.django_db


def rows(month=OCT, kind=DeductionKind.REGULAR):
    return {row.employee.employee_no: row for row in PerformanceDeduction.objects.filter(month=month, kind=kind)}


def test_arithmetic_points_fines_forfeit_and_base(org, hr, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0), employee=org["east_rep"])  # warning: 2 points
    sanction("R01", at(2026, 10, 6, 10, 0), employee=org["east_rep"])  # fine 100 CNY, no points
    sanction("R02", at(2026, 10, 7, 10, 0), employee=org["east_rep"])  # fine 50 CNY
    sanction("C07", at(2026, 10, 8, 10, 0), employee=org["tech_dev"])  # demerit 10 + forfeit + removal
    sanction("C05", at(2026, 10, 9, 10, 0), employee=org["sales_head"], sanctions=[{"kind": "points", "points": 7}])

    result = compute_month("2026-10", acting_user=hr)

    by_no = rows()
    # Active employees get a row each (the departed one without a departure date does not).
    assert sorted(by_no) == ["E0001", "E0100", "E0101", "E0200", "E0201"]
    assert result.employees == 5 and result.sanctions == 7
    rep = by_no["E0101"]
    assert (rep.base_score, rep.points_deducted, rep.fines_total, rep.forfeit, rep.final_score) == (
        100,
        2,
        Decimal("150.00"),
        False,
        98,
    )
    assert [entry["rule"] for entry in rep.breakdown["sanctions"]] == ["C06", "R01", "R02"]
    assert rep.breakdown["sanctions"][1]["amount"] == "100.00"
    assert rep.breakdown["sanctions"][0]["rule_title"].startswith("无关商业广告")
    dev = by_no["E0201"]
    assert (dev.points_deducted, dev.forfeit, dev.final_score, dev.sanction_count) == (10, True, 0, 3)
    head = by_no["E0100"]
    assert (head.points_deducted, head.final_score) == (7, 93)
    untouched = by_no["E0001"]
    assert (untouched.points_deducted, untouched.final_score, untouched.breakdown) == (0, 100, {"sanctions": []})


def test_score_never_below_zero_and_base_from_settings(org, hr, sanction):
    settings = CompanySettings.load()
    settings.base_monthly_score = 5
    settings.save()
    sanction("C05", at(2026, 10, 9, 10, 0), sanctions=[{"kind": "points", "points": 7}])
    compute_month(OCT, acting_user=hr)
    rep = rows()["E0101"]
    assert (rep.base_score, rep.points_deducted, rep.final_score) == (5, 7, 0)
    assert rows()["E0001"].final_score == 5


def test_month_of_a_sanction_is_the_local_month_of_the_violation(org, hr, sanction):
    sanction("C06", at(2026, 10, 31, 23, 59, 59))  # Beijing time: still October
    sanction("B03", at(2026, 11, 1, 0, 0, 0))  # 2026-10-31 16:00 UTC, but November in Shanghai
    compute_month(OCT, acting_user=hr)
    compute_month(NOV, acting_user=hr)
    assert [e["rule"] for e in rows(OCT)["E0101"].breakdown["sanctions"]] == ["C06"]
    assert [e["rule"] for e in rows(NOV)["E0101"].breakdown["sanctions"]] == ["B03"]


def test_recompute_gives_the_same_rows_and_resets_stale_ones(org, hr, sanction):
    violation = sanction("C06", at(2026, 10, 5, 10, 0))
    first = compute_month(OCT, acting_user=hr)
    snapshot = list(PerformanceDeduction.objects.order_by("pk").values())
    second = compute_month(OCT, acting_user=hr)
    assert first.rows_written == 5 and second.rows_written == 0
    assert list(PerformanceDeduction.objects.order_by("pk").values()) == snapshot

    services.dismiss_violation(violation, "误报", acting_user=hr)
    third = compute_month(OCT, acting_user=hr)
    assert third.rows_written == 1 and PerformanceDeduction.objects.count() == 5
    rep = rows()["E0101"]
    assert (rep.points_deducted, rep.final_score, rep.sanction_count) == (0, 100, 0)


def test_people_no_longer_concerned_lose_their_row(org, hr):
    compute_month(OCT, acting_user=hr)
    ceo = org["ceo"]
    ceo.hire_date = datetime.date(2026, 11, 3)  # corrected roster: hired after October
    ceo.save()
    result = compute_month(OCT, acting_user=hr)
    assert result.rows_deleted == 1 and "E0001" not in rows()


def test_employment_dates_decide_who_is_in_the_month(org, hr, sanction):
    org["east_departed"].departure_date = datetime.date(2026, 10, 15)
    org["east_departed"].save()
    org["tech_dev"].departure_date = datetime.date(2026, 9, 30)
    org["tech_dev"].status = "departed"
    org["tech_dev"].save()
    compute_month(OCT, acting_user=hr)
    assert "E0102" in rows()  # departed mid-October: still scored for October
    assert "E0201" not in rows()  # gone before October


def test_departed_without_date_but_sanctioned_is_included(org, hr, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0), employee=org["east_departed"])
    compute_month(OCT, acting_user=hr)
    assert rows()["E0102"].points_deducted == 2


def test_withdrawn_and_pending_sanctions_do_not_count(org, hr, sanction):
    appealed = sanction("C06", at(2026, 10, 5, 10, 0))
    services.mark_notified(appealed, acting_user=hr)
    services.file_appeal(appealed, "不是广告", acting_user=hr)
    compute_month(OCT, acting_user=hr)
    assert rows()["E0101"].points_deducted == 0  # pending appeal: not counted until decided


def test_bad_month_is_named(hr, org):
    with pytest.raises(ValidationError) as exc:
        compute_month("2026-13", acting_user=hr)
    assert "month" in exc.value.message_dict
    with pytest.raises(ValidationError, match="未来"):
        compute_month(previous_month(datetime.date(2100, 2, 1)), acting_user=hr)
    assert not PerformanceMonth.objects.exists()


def test_parse_and_previous_month():
    assert parse_month("2026-10") == OCT
    assert parse_month(datetime.date(2026, 10, 31)) == OCT
    assert previous_month(datetime.date(2026, 1, 1)) == datetime.date(2025, 12, 1)


def test_only_hr_computes(org, auditor, head_sales):
    for user in (auditor, head_sales):
        with pytest.raises(PermissionDenied):
            compute_month(OCT, acting_user=user)


def test_compute_is_audited_once_per_run(org, hr):
    compute_month(OCT, acting_user=hr)
    period = PerformanceMonth.objects.get(month=OCT)
    entry = LogEntry.objects.get_for_object(period).latest("timestamp")
    assert entry.actor == hr
    assert entry.additional_data["channel"] == "system"
    assert entry.additional_data["deductions"]["employees"] == 5
    assert period.status == MonthStatus.OPEN and period.computed_by == hr


def test_visible_to_scopes_rows(org, hr, head_sales, head_tech, employee_user, auditor):
    compute_month(OCT, acting_user=hr)
    visible = PerformanceDeduction.objects.visible_to
    assert visible(hr).count() == visible(auditor).count() == 5
    assert set(visible(head_sales).values_list("employee__employee_no", flat=True)) == {"E0100", "E0101"}
    assert set(visible(head_tech).values_list("employee__employee_no", flat=True)) == {"E0200", "E0201"}
    assert list(visible(employee_user).values_list("employee__employee_no", flat=True)) == ["E0101"]


def test_sanction_kinds_without_points_still_named(org, hr, sanction):
    sanction("C08", at(2026, 10, 5, 10, 0))  # reminder: 0 points, but listed
    compute_month(OCT, acting_user=hr)
    rep = rows()["E0101"]
    assert rep.final_score == 100 and [e["kind"] for e in rep.breakdown["sanctions"]] == [SanctionKind.REMINDER]


def test_a_run_killed_midway_leaves_nothing_and_a_rerun_completes(org, hr, sanction, monkeypatch):
    from violations.deductions import compute as deductions

    violation = sanction("C06", at(2026, 10, 5, 10, 0))
    compute_month(OCT, acting_user=hr)
    services.dismiss_violation(violation, "误报", acting_user=hr)

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed")  # after the regular rows were upserted

    monkeypatch.setattr(deductions, "book_adjustments", killed)
    with pytest.raises(RuntimeError):
        compute_month(OCT, acting_user=hr)
    assert rows()["E0101"].points_deducted == 2  # rolled back: the old rows stand, nothing half-written
    monkeypatch.undo()
    compute_month(OCT, acting_user=hr)
    assert rows()["E0101"].points_deducted == 0 and PerformanceDeduction.objects.count() == 5

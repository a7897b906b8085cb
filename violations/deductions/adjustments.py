"""Corrections of closed months: what a closed month would be now, against what was booked, as adjustment rows."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from portal.months import month_bounds

from ..choices import DeductionKind
from ..models import CompanySettings, PerformanceDeduction, PerformanceMonth, Sanction
from .rows import final_score, sanction_entries, totals
from .upsert import BATCH_SIZE, delete_by_pk, upsert


@dataclass(frozen=True)
class AdjustmentResult:
    count: int
    written: int
    deleted: int


def book_adjustments(month: datetime.date, now) -> AdjustmentResult:
    """Rewrite open ``month``'s adjustment rows: one per employee and closed earlier month that changed."""
    rows = []
    for closed in PerformanceMonth.objects.closed().filter(month__lt=month).order_by("month"):
        rows.extend(adjustment_rows(closed.month, month, now))
    written = upsert(rows, conflict=("employee_id", "month", "adjusts_month"), kind=DeductionKind.ADJUSTMENT)
    keep = {(row["employee_id"], row["adjusts_month"]) for row in rows}
    existing = PerformanceDeduction.objects.filter(month=month, kind=DeductionKind.ADJUSTMENT)
    stale = [
        pk
        for pk, emp, adjusts in existing.values_list("pk", "employee_id", "adjusts_month")
        if (emp, adjusts) not in keep
    ]
    return AdjustmentResult(count=len(rows), written=written, deleted=delete_by_pk(stale))


def adjustment_rows(closed: datetime.date, month: datetime.date, now) -> list[dict]:
    """Compare closed month ``closed`` as it would be now with what was booked for it (outside ``month``).

    Sanctions are compared by id; entries are built only for the sanctions to add.
    """
    month_base, booked = booked_state(closed, exclude_month=month)
    current = _ids_by_employee(Sanction.objects.effective_for_month(closed))
    pending = _ids_by_employee(pending_sanctions(closed))
    changes = {}
    for employee_id in set(booked) | set(current):
        before = booked.get(employee_id, {})
        # Under a pending appeal nothing changes for a closed month: booked stays booked, unbooked stays out.
        after = current.get(employee_id, set()) | (pending.get(employee_id, set()) & before.keys())
        if after != before.keys():
            changes[employee_id] = (before, after)
    added_ids = [pk for before, after in changes.values() for pk in after - before.keys()]
    added = {e["sanction"]: e for items in _entries_for(added_ids).values() for e in items}
    rows = []
    for employee_id, (before, after) in sorted(changes.items()):
        entries_after = {pk: before.get(pk) or added[pk] for pk in after}
        rows.append(adjustment_row(employee_id, month, closed, month_base, before, entries_after, now))
    return rows


def _ids_by_employee(queryset) -> dict[int, set[int]]:
    result: dict[int, set[int]] = defaultdict(set)
    for pk, employee_id in queryset.order_by().values_list("pk", "employee_id").iterator(chunk_size=10000):
        result[employee_id].add(pk)
    return result


def _entries_for(pks: list[int]) -> dict[int, list[dict]]:
    result: dict[int, list[dict]] = defaultdict(list)
    for start in range(0, len(pks), BATCH_SIZE):
        for employee_id, items in sanction_entries(
            Sanction.objects.filter(pk__in=pks[start : start + BATCH_SIZE])
        ).items():
            result[employee_id].extend(items)
    return result


def adjustment_row(employee_id, month, closed, base: int, before: dict, after: dict, now) -> dict:
    """The adjustment of closed month ``closed`` for one employee: ``before``/``after`` map sanction id → entry."""
    added = [after[pk] for pk in sorted(after.keys() - before.keys())]
    removed = [before[pk] for pk in sorted(before.keys() - after.keys())]
    old = totals(before.values())
    new = totals([entry for pk, entry in before.items() if pk in after] + added)
    old_final, new_final = final_score(base, old.points, old.forfeit), final_score(base, new.points, new.forfeit)
    return {
        "employee_id": employee_id,
        "month": month,
        "kind": DeductionKind.ADJUSTMENT,
        "adjusts_month": closed,
        "base_score": base,
        "points_deducted": new.points - old.points,
        "forfeit": new.forfeit,
        "fines_total": new.fines - old.fines,
        "final_score": new_final,
        "score_delta": new_final - old_final,
        "sanction_count": len(added) + len(removed),
        "breakdown": {
            "added": added,
            "removed": removed,
            "before": {"points": old.points, "fines": str(old.fines), "forfeit": old.forfeit, "final_score": old_final},
        },
        "computed_at": now,
    }


def booked_state(closed: datetime.date, *, exclude_month: datetime.date) -> tuple[int, dict[int, dict[int, dict]]]:
    """The closed month's base score and, per employee, the sanction entries booked for it so far.

    Booked = its frozen regular rows, then the adjustments for it in other months, in month order.
    """
    regular = PerformanceDeduction.objects.filter(month=closed, kind=DeductionKind.REGULAR)
    base = regular.values_list("base_score", flat=True).first()
    state: dict[int, dict[int, dict]] = {}
    for employee_id, breakdown in regular.filter(sanction_count__gt=0).values_list("employee_id", "breakdown"):
        state[employee_id] = {entry["sanction"]: entry for entry in breakdown.get("sanctions", [])}
    adjustments = (
        PerformanceDeduction.objects.filter(kind=DeductionKind.ADJUSTMENT, adjusts_month=closed)
        .exclude(month=exclude_month)
        .order_by("month")
        .values_list("employee_id", "breakdown")
    )
    for employee_id, breakdown in adjustments:
        entries = state.setdefault(employee_id, {})
        for entry in breakdown.get("removed", []):
            entries.pop(entry["sanction"], None)
        entries.update({entry["sanction"]: entry for entry in breakdown.get("added", [])})
    return (CompanySettings.load().base_monthly_score if base is None else base), state


def pending_sanctions(month: datetime.date):
    """Sanctions of the month that stand but do not count yet: under a pending appeal."""
    start, end = month_bounds(month)
    return (
        Sanction.objects.active()
        .filter(violation__occurred_at__gte=start, violation__occurred_at__lt=end)
        .exclude(pk__in=Sanction.objects.counting().values("pk"))
    )

"""An employee's row of a month, from their counting sanctions: points, forfeiture, fines, final score."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from groups.choices import EmployeeStatus
from groups.models import Employee
from portal.months import month_bounds

from ..choices import DeductionKind, SanctionKind
from ..models import Rule


def final_score(base: int, points: int, forfeit: bool) -> int:
    return 0 if forfeit else max(0, base - points)


@dataclass(frozen=True)
class Totals:
    points: int
    fines: Decimal
    forfeit: bool


def totals(entries: Iterable[dict]) -> Totals:
    entries = list(entries)
    return Totals(
        points=sum(entry["points"] for entry in entries),
        fines=sum((Decimal(entry["amount"]) for entry in entries if entry["amount"]), Decimal("0.00")),
        forfeit=any(entry["kind"] == SanctionKind.FORFEIT_MONTH for entry in entries),
    )


def sanction_entries(queryset) -> dict[int, list[dict]]:
    """Counting sanctions → ``{employee_id: [entry, …]}``, each entry naming the sanction and its violation."""
    rules = {pk: (code, title) for pk, code, title in Rule.objects.values_list("pk", "code", "title_zh")}
    tz = timezone.get_current_timezone()
    rows = queryset.order_by("employee_id", "violation__occurred_at", "pk").values_list(
        "pk", "employee_id", "violation_id", "violation__rule_id", "violation__occurred_at", "kind", "points", "amount"
    )
    result: dict[int, list[dict]] = defaultdict(list)
    for pk, employee_id, violation_id, rule_id, occurred_at, kind, points, amount in rows.iterator(chunk_size=5000):
        code, title = rules[rule_id]
        result[employee_id].append(
            {
                "sanction": pk,
                "violation": violation_id,
                "rule": code,
                "rule_title": title,
                "occurred_at": occurred_at.astimezone(tz).isoformat(),
                "kind": kind,
                "points": points,
                "amount": None if amount is None else str(amount),
            }
        )
    return result


def regular_row(employee_id: int, month: datetime.date, base: int, entries: list[dict], now) -> dict:
    total = totals(entries)
    return {
        "employee_id": employee_id,
        "month": month,
        "kind": DeductionKind.REGULAR,
        "adjusts_month": None,
        "base_score": base,
        "points_deducted": total.points,
        "forfeit": total.forfeit,
        "fines_total": total.fines,
        "final_score": final_score(base, total.points, total.forfeit),
        "score_delta": 0,
        "sanction_count": len(entries),
        "breakdown": {"sanctions": entries},
        "computed_at": now,
    }


def active_employees(month: datetime.date):
    """Employees active in the month: hired by its last day, not departed before its first day."""
    last = month_bounds(month)[1].date() - datetime.timedelta(days=1)
    return (
        Employee.objects.exclude(hire_date__gt=last)
        .exclude(departure_date__lt=month)
        .exclude(status=EmployeeStatus.DEPARTED, departure_date__isnull=True)
    )

"""Monthly performance-score deductions (绩效扣分): compute an open month, close it, book adjustments.

The rules, as HR reads them:

- **Which month.** A sanction belongs to the month of its violation's ``occurred_at`` in the company
  time zone (Asia/Shanghai): a violation at 2026-10-31 23:59:59 (Beijing time) counts in October,
  one at 2026-11-01 00:00:00 in November — whenever it was recorded or sanctioned.
- **What counts.** ``Sanction.objects.counting()``: not withdrawn, its violation neither dismissed nor
  overturned, and not under a pending appeal (nor derived from a violation under appeal).
- **Arithmetic.** Points = the sum of each counting sanction's own ``points`` (fixed when it was
  imposed: the rule's points, the company's points per kind, or an explicit points sanction).
  A ``forfeit_month`` sanction forfeits the month's performance pay: final score 0 and the
  ``forfeit`` flag. Otherwise final score = max(0, base − points). Fines = the sum of fine amounts.
  Base = ``CompanySettings.base_monthly_score`` at computation time (frozen with the month).
- **Who.** Every employee active in the month (hired on or before its last day, not departed before
  its first day) gets a row — with the base score when nothing was deducted — plus anyone with a
  counting sanction in the month.
- **Recompute.** An open month is recomputed from scratch with a set-based upsert: same input, same
  rows; a row whose sanctions disappeared is reset to the base score; rows of people no longer
  concerned are deleted.
- **Close.** Closing computes the month one last time and freezes it; ``compute_month`` refuses a
  closed month.
- **Adjustments.** When open month M is computed, every closed month C < M is recomputed as it would
  be now and compared, sanction by sanction, with what was booked for C (its frozen rows plus
  adjustments for C already made in other months). The difference becomes one ``adjustment`` row
  in M per employee, with ``adjusts_month`` = C. A sanction under a pending appeal changes nothing
  in a closed month until the appeal is decided: if it was booked it stays booked, if not it is not
  added; the decision then shows up as an adjustment (overturned → points given back).
- **Concurrency.** One transaction per month. The open months' rows are locked (``select_for_update``,
  in month order) so two computations, or a computation and a close, never overlap; a killed run
  leaves nothing half-written and a rerun produces the same rows.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.choices import EmployeeStatus
from groups.models import Employee
from portal.months import month_bounds, parse_month
from portal.staging import copy_staged

from .audit import audit_context
from .choices import Channel, DeductionKind, MonthStatus, SanctionKind
from .models import CompanySettings, PerformanceDeduction, PerformanceMonth, Rule, Sanction
from .services import _require_hr

BATCH_SIZE = 1000
UPSERT_FIELDS = [
    "employee_id",
    "month",
    "kind",
    "adjusts_month",
    "base_score",
    "points_deducted",
    "forfeit",
    "fines_total",
    "final_score",
    "score_delta",
    "sanction_count",
    "breakdown",
    "computed_at",
]
# Values compared to decide whether an existing row changed (computed_at is when it last did).
COMPARED_FIELDS = UPSERT_FIELDS[4:-1]


@dataclass(frozen=True)
class ComputeResult:
    """What one computation did, for the command's output, the task's result and the audit entry."""

    month: str
    employees: int
    sanctions: int
    rows_written: int
    rows_deleted: int
    adjustments: int
    closed: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def final_score(base: int, points: int, forfeit: bool) -> int:
    return 0 if forfeit else max(0, base - points)


@transaction.atomic
def compute_month(month: str | datetime.date, *, acting_user=None, channel: str = Channel.SYSTEM) -> ComputeResult:
    """(Re)compute an open month's rows and its adjustments of closed months; refuses a closed month.

    ``acting_user`` None is a system job (beat, command); a person must be an HR admin.
    """
    _require_hr(acting_user)
    month = _checked_month(month)
    with audit_context(acting_user, channel):
        period = _lock_open_month(month)
        result = _compute_locked(period, acting_user)
        _log(period, result, _("计算绩效扣分"))
    return result


@transaction.atomic
def close_month(month: str | datetime.date, *, acting_user, channel: str = Channel.ADMIN) -> ComputeResult:
    """Compute the month one last time and freeze it (关账); later changes become adjustments."""
    _require_hr(acting_user)
    month = _checked_month(month)
    if month_bounds(month)[1] > timezone.now():
        raise ValidationError({"month": _("%(m)s 尚未结束,不能关账。") % {"m": f"{month:%Y-%m}"}})
    with audit_context(acting_user, channel):
        period = _lock_open_month(month)
        result = _compute_locked(period, acting_user)
        period.status = MonthStatus.CLOSED
        period.closed_at = timezone.now()
        period.closed_by = acting_user
        period.save(update_fields=["status", "closed_at", "closed_by"])  # audited by auditlog
        result = ComputeResult(**{**result.as_dict(), "closed": True})
        _log(period, result, _("关账"))
    return result


def _checked_month(value: str | datetime.date) -> datetime.date:
    month = parse_month(value)
    if month > timezone.localdate().replace(day=1):
        raise ValidationError({"month": _("不能计算未来的月份 %(m)s。") % {"m": f"{month:%Y-%m}"}})
    return month


def _lock_open_month(month: datetime.date) -> PerformanceMonth:
    PerformanceMonth.objects.get_or_create(month=month)
    # Lock every open month, in month order: computations of the same month, of two months that
    # could both book an adjustment for the same closed month, and a close, all queue here.
    list(PerformanceMonth.objects.select_for_update().filter(status=MonthStatus.OPEN).order_by("month"))
    period = PerformanceMonth.objects.get(month=month)
    if period.is_closed:
        raise ValidationError(
            {"month": _("%(m)s 已关账,数据已冻结;之后的变动将作为调整记入下一个未关账月份。") % {"m": str(period)}}
        )
    return period


def _compute_locked(period: PerformanceMonth, acting_user) -> ComputeResult:
    month, now = period.month, timezone.now()
    base = CompanySettings.load().base_monthly_score
    counting = Sanction.objects.effective_for_month(month)
    entries = sanction_entries(counting)
    rows = [regular_row(pk, month, base, items, now) for pk, items in sorted(entries.items())]
    written = upsert(rows, conflict=("employee_id", "month"), kind=DeductionKind.REGULAR)
    # Everyone else active in the month gets the base score, written in one INSERT … SELECT.
    unsanctioned = _active_employees(month).exclude(pk__in=counting.values("employee_id"))
    written += _upsert_base_rows(unsanctioned, month, base, now)
    deleted = _delete_stale_regular(month, counting)
    adjustments = book_adjustments(month, now)
    period.computed_at, period.computed_by = now, acting_user
    period.save(update_fields=["computed_at", "computed_by"])
    return ComputeResult(
        month=f"{month:%Y-%m}",
        employees=PerformanceDeduction.objects.filter(month=month, kind=DeductionKind.REGULAR).count(),
        sanctions=sum(len(items) for items in entries.values()),
        rows_written=written + adjustments.written,
        rows_deleted=deleted + adjustments.deleted,
        adjustments=adjustments.count,
    )


def _active_employees(month: datetime.date):
    """Employees active in the month: hired by its last day, not departed before its first day."""
    last = month_bounds(month)[1].date() - datetime.timedelta(days=1)
    return (
        Employee.objects.exclude(hire_date__gt=last)
        .exclude(departure_date__lt=month)
        .exclude(status=EmployeeStatus.DEPARTED, departure_date__isnull=True)
    )


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


def _on_conflict(conflict: tuple[str, ...], kind: str) -> str:
    """ON CONFLICT on the partial unique index of ``kind``; only rows whose values differ are updated."""
    if kind not in DeductionKind.values:  # interpolated: the index predicate must be a literal
        raise ValueError(kind)
    meta, quote = PerformanceDeduction._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    compared = [quote(meta.get_field(name).column) for name in COMPARED_FIELDS]
    differs = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
    return (
        f" ON CONFLICT ({', '.join(quote(meta.get_field(c.removesuffix('_id')).column) for c in conflict)})"
        f" WHERE {quote('kind')} = '{kind}' DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in [*compared, quote("computed_at")])
        + " WHERE "
        + " OR ".join(f"{table}.{c} {differs} EXCLUDED.{c}" for c in compared)
    )


def _insert_head() -> str:
    meta, quote = PerformanceDeduction._meta, connection.ops.quote_name
    columns = [quote(meta.get_field(name.removesuffix("_id")).column) for name in UPSERT_FIELDS]
    return f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "


def upsert_sql(select: str, params: list, *, conflict: tuple[str, ...], kind: str) -> int:
    """INSERT INTO deductions ``select`` ON CONFLICT …: ``select`` yields the UPSERT_FIELDS columns."""
    with connection.cursor() as cursor:
        cursor.execute(_insert_head() + select + _on_conflict(conflict, kind), params)
        return max(cursor.rowcount, 0)


def upsert(rows: list[dict], *, conflict: tuple[str, ...], kind: str) -> int:
    """Insert or update ``rows`` (dicts of UPSERT_FIELDS); returns how many were inserted or changed.

    Django's ``bulk_create(update_conflicts=True)`` cannot name a partial index's predicate, which
    PostgreSQL needs to pick the index. On PostgreSQL the rows are COPied into a temporary staging
    table first; elsewhere they go in multi-row VALUES batches.
    """
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _upsert_copy(rows, conflict, kind)
    fields = [PerformanceDeduction._meta.get_field(name.removesuffix("_id")) for name in UPSERT_FIELDS]
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    changed = 0
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        params = [
            f.get_db_prep_save(row[name], connection)
            for row in batch
            for f, name in zip(fields, UPSERT_FIELDS, strict=True)
        ]
        changed += upsert_sql("VALUES " + ", ".join([one] * len(batch)), params, conflict=conflict, kind=kind)
    return changed


def _upsert_copy(rows: list[dict], conflict: tuple[str, ...], kind: str) -> int:
    meta, quote = PerformanceDeduction._meta, connection.ops.quote_name
    columns = [quote(meta.get_field(name.removesuffix("_id")).column) for name in UPSERT_FIELDS]
    values = ([_copy_value(row[name]) for name in UPSERT_FIELDS] for row in rows)
    like = quote(meta.db_table)
    with connection.cursor() as cursor, copy_staged(cursor, "deduction_stage", like=like, columns=columns, rows=values):
        select = f"SELECT {', '.join(columns)} FROM deduction_stage WHERE true"  # noqa: S608
        return upsert_sql(select, [], conflict=conflict, kind=kind)


def _copy_value(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value


def _upsert_base_rows(employees, month: datetime.date, base: int, now) -> int:
    """Base-score rows for ``employees`` (a queryset) straight from the database, no Python loop."""
    meta = PerformanceDeduction._meta
    sub_sql, sub_params = employees.order_by().values(emp=F("pk")).query.sql_with_params()
    constants = {
        "month": month,
        "kind": DeductionKind.REGULAR,
        "adjusts_month": None,
        "base_score": base,
        "points_deducted": 0,
        "forfeit": False,
        "fines_total": Decimal("0.00"),
        "final_score": base,
        "score_delta": 0,
        "sanction_count": 0,
        "breakdown": {"sanctions": []},
        "computed_at": now,
    }
    fields = [meta.get_field(name) for name in constants]
    placeholders = ", ".join(
        "CAST(%s AS jsonb)" if f.name == "breakdown" and connection.vendor == "postgresql" else "%s" for f in fields
    )
    params = [
        json.dumps(value) if f.name == "breakdown" else f.get_db_prep_save(value, connection)
        for f, value in zip(fields, constants.values(), strict=True)
    ]
    # "WHERE true": SQLite would otherwise read ON CONFLICT as a join constraint.
    select = f"SELECT e.emp, {placeholders} FROM ({sub_sql}) e WHERE true"  # noqa: S608
    return upsert_sql(select, [*params, *sub_params], conflict=("employee_id", "month"), kind=DeductionKind.REGULAR)


def _delete_by_pk(pks: list[int]) -> int:
    deleted = 0
    for start in range(0, len(pks), BATCH_SIZE):
        deleted += PerformanceDeduction.objects.filter(pk__in=pks[start : start + BATCH_SIZE]).delete()[0]
    return deleted


def _delete_stale_regular(month: datetime.date, counting) -> int:
    """Rows of people neither active in the month nor sanctioned in it any more (a corrected roster)."""
    stale = (
        PerformanceDeduction.objects.filter(month=month, kind=DeductionKind.REGULAR)
        .exclude(employee_id__in=_active_employees(month).values("pk"))
        .exclude(employee_id__in=counting.values("employee_id"))
    )
    return _delete_by_pk(list(stale.values_list("pk", flat=True)))


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
    return AdjustmentResult(count=len(rows), written=written, deleted=_delete_by_pk(stale))


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


def _log(period: PerformanceMonth, result: ComputeResult, what: str) -> None:
    # The rows are written in bulk (no signals): one summary entry in the audit trail per run.
    summary = _("%(what)s %(m)s: %(n)s 名员工, %(w)s 行写入, %(d)s 行删除, %(a)s 条调整") % {
        "what": what,
        "m": result.month,
        "n": result.employees,
        "w": result.rows_written,
        "d": result.rows_deleted,
        "a": result.adjustments,
    }
    LogEntry.objects.log_create(
        period,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        changes={"deductions": ["", summary]},
        additional_data={"deductions": result.as_dict()},
    )

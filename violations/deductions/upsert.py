"""Set-based writing of deduction rows: one INSERT … ON CONFLICT per batch (COPY-staged on PostgreSQL)."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

from django.db import connection
from django.db.models import F

from portal.staging import copy_staged

from ..choices import DeductionKind
from ..models import PerformanceDeduction
from .rows import active_employees

BATCH_SIZE = 1000
UPSERT_FIELDS = list(PerformanceDeduction.ROW_FIELDS)
# Values compared to decide whether an existing row changed (computed_at is when it last did).
COMPARED_FIELDS = [*PerformanceDeduction.SCORE_FIELDS, "breakdown"]


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


def upsert_base_rows(employees, month: datetime.date, base: int, now) -> int:
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


def delete_by_pk(pks: list[int]) -> int:
    deleted = 0
    for start in range(0, len(pks), BATCH_SIZE):
        deleted += PerformanceDeduction.objects.filter(pk__in=pks[start : start + BATCH_SIZE]).delete()[0]
    return deleted


def delete_stale_regular(month: datetime.date, counting) -> int:
    """Rows of people neither active in the month nor sanctioned in it any more (a corrected roster)."""
    stale = (
        PerformanceDeduction.objects.filter(month=month, kind=DeductionKind.REGULAR)
        .exclude(employee_id__in=active_employees(month).values("pk"))
        .exclude(employee_id__in=counting.values("employee_id"))
    )
    return delete_by_pk(list(stale.values_list("pk", flat=True)))

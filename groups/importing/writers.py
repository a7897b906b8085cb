"""Writing planned imports. Callers (groups.services) hold the transaction and write the audit row."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone

from groups.models import Department, Employee
from portal.staging import copy_staged

from .departments import create_departments_bulk
from .employees import EmployeePlan

BATCH = 2000


def _db_field(key: str) -> str:
    return "department_id" if key == "department" else key


def create_departments(paths: list[str]) -> int:
    """Create the missing departments in bulk (``importing.departments``). Returns how many were created."""
    return len(create_departments_bulk(paths))


def write_employees(plan: EmployeePlan) -> list[str]:
    """Upsert only the rows that changed: PostgreSQL COPY + INSERT … ON CONFLICT, else bulk_create.

    Returns the name paths of the departments created (the caller's audit summary names them)."""
    created = create_departments_bulk(plan.new_departments)
    numbers = plan.creates + plan.updates
    if not numbers:
        return created
    dept_ids = dict(Department.objects.values_list("name_path", "id")) if "department" in plan.file.fields else {}
    if connection.vendor == "postgresql":
        _copy_upsert(plan, numbers, dept_ids)  # marks the rows it writes
        return created
    if connection.vendor == "sqlite":
        _executemany_upsert(plan, numbers, dept_ids)
    else:
        _bulk_upsert(plan, numbers, dept_ids)
    _mark_changed(numbers)
    return created


def _mark_changed(numbers: list[str]) -> None:
    """The written people's groups need the next (incremental) reconciliation: one UPDATE, the
    numbers passed as one JSON parameter (no limit on their count)."""
    payload = json.dumps(numbers, ensure_ascii=False)
    if connection.vendor == "postgresql":
        numbers_sql = RawSQL("SELECT jsonb_array_elements_text(%s::jsonb)", (payload,))
    else:
        numbers_sql = RawSQL("SELECT value FROM json_each(%s)", (payload,))
    Employee.objects.filter(employee_no__in=numbers_sql).update(employment_changed_at=timezone.now())


def _db_values(plan: EmployeePlan, employee_no: str, dept_ids: dict[str, int]) -> dict[str, Any]:
    values = dict(zip(plan.file.fields, plan.file.rows[employee_no], strict=True))
    if "department" in values:
        values["department_id"] = dept_ids[values.pop("department")]
    return values


def _bulk_upsert(plan: EmployeePlan, numbers: list[str], dept_ids: dict[str, int]) -> None:
    update_fields = [_db_field(k) for k in plan.file.fields] + ["updated_at"]
    for start in range(0, len(numbers), BATCH):
        objs = [Employee(employee_no=no, **_db_values(plan, no, dept_ids)) for no in numbers[start : start + BATCH]]
        Employee.objects.bulk_create(
            objs, update_conflicts=True, unique_fields=["employee_no"], update_fields=update_fields
        )


# Columns a new row needs whatever the file carries: (column, default for COPY).
_NEW_ROW_DEFAULTS = {
    "name": "",
    "title": "",
    "status": "active",
    "hire_date": None,
    "departure_date": None,
    "wechat_id": "",
    "wecom_id": "",
    "qq_id": "",
    "dingtalk_id": "",
    "email": "",
}


def _copy_upsert(plan: EmployeePlan, numbers: list[str], dept_ids: dict[str, int]) -> None:
    """COPY changed rows into a temp table, then one INSERT … ON CONFLICT DO UPDATE … WHERE distinct.

    Only the file's columns are updated on conflict; a new row gets defaults for the others.
    """
    present = [_db_field(k) for k in plan.file.fields]
    columns = ["employee_no", *present, *(c for c in _NEW_ROW_DEFAULTS if c not in present)]
    table = Employee._meta.db_table

    def rows():
        for no in numbers:
            values = _db_values(plan, no, dept_ids)
            yield [no, *(values.get(c, _NEW_ROW_DEFAULTS.get(c)) for c in columns[1:])]

    with (
        connection.cursor() as cursor,
        copy_staged(cursor, "qungui_emp_stage", like=table, columns=columns, rows=rows()) as stage,
    ):
        now = timezone.now()
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in present)
        old = ", ".join(f"{table}.{c}" for c in present)
        new = ", ".join(f"EXCLUDED.{c}" for c in present)
        # The change mark for the next incremental reconciliation is written with the row: a separate
        # UPDATE … WHERE employee_no IN (100,000 numbers) ran for minutes on a table whose statistics
        # still said empty (a first import): the planner rescanned the number list per row.
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}, created_at, updated_at, employment_changed_at) "  # noqa: S608
            f"SELECT {', '.join(columns)}, %s, %s, %s FROM {stage} "
            f"ON CONFLICT (employee_no) DO UPDATE SET {sets}, updated_at = EXCLUDED.updated_at, "
            f"employment_changed_at = EXCLUDED.employment_changed_at "
            f"WHERE ROW({old}) IS DISTINCT FROM ROW({new})",
            [now, now, now],
        )


def _executemany_upsert(plan: EmployeePlan, numbers: list[str], dept_ids: dict[str, int]) -> None:
    """SQLite: one prepared INSERT … ON CONFLICT DO UPDATE run with executemany.

    bulk_create spends most of its time preparing each value through the field API (bench/README.md);
    the values here are already validated, only dates need adapting.
    """
    present = [_db_field(k) for k in plan.file.fields]
    columns = ["employee_no", *present, *(c for c in _NEW_ROW_DEFAULTS if c not in present)]
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    dates = {i for i, c in enumerate(columns) if c in ("hire_date", "departure_date")}
    table = Employee._meta.db_table
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}, created_at, updated_at) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * (len(columns) + 2))}) ON CONFLICT (employee_no) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in [*present, "updated_at"])
    )

    def row(no: str) -> list[Any]:
        values = _db_values(plan, no, dept_ids)
        out = [no, *(values.get(c, _NEW_ROW_DEFAULTS.get(c)) for c in columns[1:]), now, now]
        for i in dates:
            out[i] = ops.adapt_datefield_value(out[i])
        return out

    with connection.cursor() as cursor:
        for start in range(0, len(numbers), BATCH):
            cursor.executemany(sql, [row(no) for no in numbers[start : start + BATCH]])

"""The rows a validation read and checked, kept with the job so that confirming does not read again.

An employee upload is read and validated once, in ``validate_import`` (the worker): the checked
rows go into a ``StagedImport`` row next to the preview. Confirming plans them against the database
again (inside the write transaction, so a change made between preview and confirm is seen) but does
not open, decode or validate the file a second time. A job without staged rows (validated before
this existed, or a stage of another format version) falls back to reading the file.

The rows are stored as they left validation, before the plan rewrites 部门 cells to full paths (the
plan depends on the importer's choice to create departments, which may change at confirm).
"""

from __future__ import annotations

import datetime
from typing import Any

from groups.models import ImportJob, StagedImport

from .employees import EmployeeFile

FORMAT = 1
DATE_FIELDS = frozenset({"hire_date", "departure_date"})


def encode_employees(data: EmployeeFile) -> dict[str, Any]:
    """``data`` as JSON (taken before planning: the plan rewrites the rows in place)."""
    dates = [i for i, key in enumerate(data.fields) if key in DATE_FIELDS]
    rows = []
    for employee_no, values in data.rows.items():
        row = [employee_no, *values]
        for i in dates:
            if row[i + 1] is not None:
                row[i + 1] = row[i + 1].isoformat()
        rows.append(row)
    return {
        "format": FORMAT,
        "encoding": data.encoding,
        "fields": list(data.fields),
        "rows": rows,
        "numbers": [data.numbers[no] for no in data.rows],
        "codes": data.department_codes,
    }


def _decode(stored: dict[str, Any]) -> EmployeeFile:
    fields = tuple(stored["fields"])
    dates = [i for i, key in enumerate(fields) if key in DATE_FIELDS]
    parse = datetime.date.fromisoformat
    data = EmployeeFile(stored["encoding"], fields)
    for row, number in zip(stored["rows"], stored["numbers"], strict=True):
        employee_no, values = row[0], row[1:]
        for i in dates:
            if values[i] is not None:
                values[i] = parse(values[i])
        data.rows[employee_no] = tuple(values)
        data.numbers[employee_no] = number
    data.department_codes = dict(stored["codes"])
    return data


def stage(job: ImportJob, encoded: dict[str, Any]) -> None:
    """Keep the rows of ``encode_employees`` for the job's confirm."""
    StagedImport.objects.update_or_create(job=job, defaults={"rows": encoded})


def staged_employees(job: ImportJob) -> EmployeeFile | None:
    """The rows the job's validation kept, or None (then the file is read again)."""
    stored = StagedImport.objects.filter(job=job).values_list("rows", flat=True).first()
    if not stored or stored.get("format") != FORMAT:
        return None
    return _decode(stored)


def drop_stage(job: ImportJob) -> None:
    StagedImport.objects.filter(job=job).delete()

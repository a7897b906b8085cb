"""Helpers for the roster import tests: write files in every encoding, run imports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from groups.choices import ImportKind
from groups.services import create_import_job, import_employees, import_group_roster

EMP_HEADER = ["工号", "姓名", "部门", "职位", "状态", "入职日期", "离职日期", "微信号"]


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def run_employees(path: Path, **kwargs) -> dict:
    job = create_import_job(kind=ImportKind.EMPLOYEES, acting_user=None, original_name=Path(path).name)
    kwargs.setdefault("create_departments", True)  # most tests set up new departments with their files
    return import_employees(path, acting_user=None, job=job, **kwargs)["summary"]


def run_roster(path: Path, group=None, acting_user=None, **kwargs) -> dict:
    job = create_import_job(kind=ImportKind.GROUP, acting_user=acting_user, original_name=Path(path).name)
    return import_group_roster(path, acting_user=acting_user, job=job, group=group, **kwargs)

"""XLSX files without a <dimension> element (openpyxl write_only, many report generators) are counted.

The row count (taken by the worker's validation, never in the request) decides whether a confirmed
import is written in the web request or queued for the worker (ROSTER_IMPORT_ASYNC_ROWS): a large
file counted as 0 rows would be written inside the request.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from groups.choices import ImportKind
from groups.importing.readers import count_rows
from groups.services import create_import_job, is_large_import, validate_import

from .import_helpers import EMP_HEADER


def write_only_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def rows(count: int) -> list[list]:
    return [EMP_HEADER] + [[f"W{n:04d}", "张三", "总公司/销售部", "", "在职", "", "", ""] for n in range(count)]


def test_write_only_xlsx_has_no_dimension_but_is_counted(tmp_path):
    path = write_only_xlsx(tmp_path / "w.xlsx", rows(7))
    book = load_workbook(path, read_only=True)
    assert book.worksheets[0].max_row is None  # what made the count 0
    book.close()
    assert count_rows(path) == 7


@pytest.mark.django_db
def test_large_write_only_xlsx_upload_goes_to_the_worker(tmp_path, settings, hr):
    settings.ROSTER_IMPORT_ASYNC_ROWS = 5
    path = write_only_xlsx(tmp_path / "big.xlsx", rows(6))
    upload = SimpleUploadedFile("big.xlsx", path.read_bytes())
    job = create_import_job(kind=ImportKind.EMPLOYEES, acting_user=hr, upload=upload)
    assert job.total_rows == 0  # not parsed at upload
    job = validate_import(job.pk)
    assert job.total_rows == 6
    assert is_large_import(job)

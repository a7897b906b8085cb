"""A real browser: HR opens the deductions list (zh-hans), clicks the month's XLSX export, gets the file."""

from __future__ import annotations

import datetime

import openpyxl
import pytest
from auditlog.models import LogEntry

from conftest import browser_login
from violations.deductions import close_month, compute_month

from .conftest import at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_hr_exports_the_month_from_the_deductions_screen(page, screenshot, org, hr, sanction, tmp_path):
    sanction("C06", at(2026, 10, 5, 10, 0), employee=org["east_rep"])
    close_month(datetime.date(2026, 10, 1), acting_user=hr)
    sanction("C07", at(2026, 10, 30, 19, 0), employee=org["tech_dev"], group=org["tech_group"])
    compute_month(datetime.date(2026, 11, 1), acting_user=hr)
    browser_login(page, "hr")
    page.goto("/admin/violations/performancededuction/?month=2026-11")
    note = page.locator(".deduction-export-note")
    assert "2026-11 未关账,导出的数据为暂定。" in note.inner_text()
    assert "调整行记入该月" in note.inner_text()
    button = page.locator("a.export-xlsx")
    assert button.inner_text() == "导出 2026-11 XLSX"
    screenshot("deductions_export_list")
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "绩效扣分_2026-11_暂定.xlsx"
    path = tmp_path / "export.xlsx"
    download.save_as(str(path))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("工号", "姓名", "部门") and sheet.title == "绩效扣分 2026-11 未关账(暂定)"
    assert ("E0201", "调整", "2026-10") in {(r[0], r[3], r[4]) for r in rows[1:]}
    assert LogEntry.objects.get(additional_data__access="export").actor == hr

    page.goto("/admin/violations/performancemonth/")
    assert page.locator("td.field-export_links a", has_text="CSV").count() == 2
    screenshot("deductions_export_months")

"""The XLSX report: the detail sheet(s), split at Excel's row limit, then the totals sheets."""

from __future__ import annotations

from collections.abc import Callable

import xlsxwriter
from django.utils.translation import gettext as _

from portal.exports import neutralize

from .rows import columns
from .sql import CHUNK_SIZE, iter_chunks
from .totals import TOTALS, write_totals_sheet

XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet, header included


TEXT_COLUMNS = (1, 2, 3, 4, 5, 6, 7, 8, 11, 12)


NUMBER_COLUMNS = (9, 10)


WIDTHS = (11, 10, 10, 28, 20, 9, 8, 30, 24, 10, 9, 10, 10)


def write_xlsx(
    path: str,
    qs,
    *,
    deductions,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Write the report workbook to ``path`` in constant memory; returns the number of detail rows.

    Sheet 1 (and following, past Excel's row limit) holds the detail; then totals by department,
    by rule category, by group and per employee. The per-employee sheet also shows each month's
    performance score from the deductions job, read from ``deductions``: a PerformanceDeduction
    queryset already scoped to the exporting user (``visible_to(user)``).
    """
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}
    options["strings_to_urls"] = False
    workbook = xlsxwriter.Workbook(path, options)
    styles = {
        "head": workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "money": workbook.add_format({"num_format": "#,##0.00"}),
    }
    try:
        count = _write_detail(workbook, styles, qs, on_progress, chunk_size)
        for title, spec in TOTALS:
            write_totals_sheet(workbook, styles, title(), spec, qs, deductions)
    finally:
        workbook.close()
    return count


def _new_detail_sheet(workbook, styles, number: int):
    name = _("违规明细") if number == 1 else f"{_('违规明细')} ({number})"
    sheet = workbook.add_worksheet(name[:31])
    for col, (title, width) in enumerate(zip(columns(), WIDTHS, strict=True)):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, neutralize(title), styles["head"])
    sheet.freeze_panes(1, 0)
    return sheet


def _write_detail(workbook, styles, qs, on_progress, chunk_size: int) -> int:
    sheets, count, row = 1, 0, 1
    sheet = _new_detail_sheet(workbook, styles, sheets)
    for chunk in iter_chunks(qs, chunk_size):
        for values in chunk:
            if row == XLSX_MAX_ROWS:
                sheets, row = sheets + 1, 1
                sheet = _new_detail_sheet(workbook, styles, sheets)
            sheet.write_datetime(row, 0, values[0], styles["date"])
            for col in TEXT_COLUMNS:
                sheet.write_string(row, col, values[col])
            sheet.write_number(row, 9, values[9], styles["money"])
            sheet.write_number(row, 10, values[10])
            row += 1
        count += len(chunk)
        if on_progress is not None:
            on_progress(count)
    return count

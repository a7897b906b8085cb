"""The month's performance deductions for payroll, as CSV (UTF-8 with a BOM, or GBK) or XLSX.

What payroll gets, one line per row of the month, ordered by 工号:

- **This month** (类型 常规): the employee's base score, points deducted, forfeiture of the month's
  performance pay, fines and final score for the exported month.
- **Adjustments of earlier months** (类型 调整) as their own lines, right under the employee's
  regular line: a closed month cannot change, so a correction of it (an appeal decided, a late
  violation, a sanction withdrawn) is booked in the next open month and names the corrected month
  in 调整月份. On such a line 扣分 and 罚款 are the signed changes for that month, 最终得分 what the
  corrected month amounts to now and 得分调整 the change of its final score — the number payroll
  applies. Own lines rather than a column because one person may have corrections of several
  closed months at once, each with its own fine and score change.
- **The month's status** (月份状态) on every line: 已关账 (final) or 未关账(暂定) — an open month may
  still be recomputed, so its figures are provisional. The XLSX names the status in its sheet name
  and has a 说明 sheet with the status, the provisional warning and the correction rule
  (``wording.correction_note``); the CSV file name carries 暂定 for an open month.

Who: HR and auditors the whole company, a department head their subtree (``visible_to``); anyone
else is refused (PermissionDenied). Rows come from one scoped query, read in chunks. Every text cell
goes through ``portal.exports.neutralize``; XLSX cells are written with write_string/write_number,
never as formulas. Every export is audited (``log_export``) before a row leaves.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from collections.abc import Iterator
from decimal import Decimal

import xlsxwriter
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from portal.audit import log_access
from portal.exports import neutralize
from portal.months import parse_month
from portal.scoping import scope_for

from ..choices import DeductionKind
from ..models import PerformanceDeduction, PerformanceMonth
from .wording import correction_note

FORMATS = ("csv", "xlsx")
ENCODINGS = ("utf-8-sig", "gbk")
CHUNK_SIZE = 2000

# Read from the database in this order; SCORE_FIELDS keeps the export in step with the model.
_VALUES = (
    "employee__employee_no",
    "employee__name",
    "employee__department__name_path",
    "kind",
    "adjusts_month",
    *PerformanceDeduction.SCORE_FIELDS,
)


def require_export_access(user) -> None:
    """HR, auditors and department heads export; anyone else gets PermissionDenied."""
    scope = scope_for(user)
    if not (scope.everything or scope.is_department_head):
        raise PermissionDenied(_("只有人资、审计和部门负责人可以导出绩效扣分。"))


def export_month(value, *, param: str = "month") -> PerformanceMonth:
    """The computed month named by ``value`` (``YYYY-MM``); a Chinese ValidationError keyed by ``param``."""
    month = parse_month(value, param=param)
    period = PerformanceMonth.objects.filter(month=month).first()
    if period is None:
        raise ValidationError({param: _("%(m)s 尚未计算绩效扣分,没有可导出的数据。") % {"m": f"{month:%Y-%m}"}})
    return period


def check_format(file_format: str, encoding: str | None = None) -> tuple[str, str]:
    """``(format, encoding)`` or a ValidationError naming the bad parameter."""
    if file_format not in FORMATS:
        raise ValidationError({"format": _("参数 format 只能是 csv 或 xlsx(收到“%(v)s”)。") % {"v": file_format[:20]}})
    if encoding in (None, ""):
        encoding = "utf-8-sig"
    if encoding not in ENCODINGS:
        raise ValidationError(
            {
                "encoding": _("参数 encoding 只能是 %(c)s(收到“%(v)s”)。")
                % {"c": " / ".join(ENCODINGS), "v": encoding[:20]}
            }
        )
    return file_format, encoding


def deductions_queryset(period: PerformanceMonth, user):
    """The month's rows the user may see (everything for ``user=None``: the operator at the shell)."""
    rows = PerformanceDeduction.objects.all() if user is None else PerformanceDeduction.objects.visible_to(user)
    return rows.filter(month=period.month).order_by(
        "employee__employee_no", F("adjusts_month").asc(nulls_first=True), "pk"
    )


def status_text(period: PerformanceMonth) -> str:
    return _("已关账") if period.is_closed else _("未关账(暂定)")


def columns() -> list[str]:
    meta = PerformanceDeduction._meta
    scores = [str(meta.get_field(name).verbose_name) for name in PerformanceDeduction.SCORE_FIELDS]
    return [_("工号"), _("姓名"), _("部门"), _("类型"), _("调整月份"), *scores, _("月份状态")]


# Positions (in ``columns()``) of the numbers: everything else is text.
_SCORE_START = 5
_FORFEIT = _SCORE_START + PerformanceDeduction.SCORE_FIELDS.index("forfeit")


def iter_rows(period: PerformanceMonth, qs, chunk_size: int = CHUNK_SIZE) -> Iterator[list]:
    """Each row as cells: texts neutralised, numbers as int/Decimal, forfeiture as 是/否."""
    status = status_text(period)
    kinds = {DeductionKind.REGULAR.value: _("常规"), DeductionKind.ADJUSTMENT.value: _("调整")}
    yes, no = _("是"), _("否")
    for values in qs.values_list(*_VALUES).iterator(chunk_size=chunk_size):
        number, name, department, kind, adjusts = values[:_SCORE_START]
        scores = list(values[_SCORE_START:])
        scores[_FORFEIT - _SCORE_START] = yes if scores[_FORFEIT - _SCORE_START] else no
        texts = [number, name, department, kinds.get(kind, kind), f"{adjusts:%Y-%m}" if adjusts else ""]
        yield [neutralize(cell) for cell in texts] + [neutralize(cell) for cell in scores] + [neutralize(status)]


def csv_chunks(period: PerformanceMonth, qs, encoding: str = "utf-8-sig", chunk_size: int = CHUNK_SIZE):
    """The CSV as byte chunks: a BOM for UTF-8, the header, then ``chunk_size`` rows at a time."""
    codec = "utf-8" if encoding == "utf-8-sig" else "gbk"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralize(c) for c in columns()])
    head = buffer.getvalue().encode(codec, "replace")
    yield (codecs.BOM_UTF8 + head) if encoding == "utf-8-sig" else head
    rows = iter_rows(period, qs, chunk_size)
    while True:
        buffer.seek(0)
        buffer.truncate()
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
            if count == chunk_size:
                break
        if not count:
            return
        yield buffer.getvalue().encode(codec, "replace")


def write_csv(path: str, period: PerformanceMonth, qs, *, encoding: str = "utf-8-sig") -> None:
    with open(path, "wb") as handle:
        for chunk in csv_chunks(period, qs, encoding):
            handle.write(chunk)


def write_xlsx(path: str, period: PerformanceMonth, qs, *, rows: int, user=None) -> None:
    """The workbook: the rows sheet (status in its name), then 说明 (status, provisional, corrections)."""
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}
    options["strings_to_urls"] = False
    workbook = xlsxwriter.Workbook(path, options)
    head = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    money = workbook.add_format({"num_format": "#,##0.00"})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    try:
        sheet = workbook.add_worksheet(f"{_('绩效扣分')} {period} {status_text(period)}"[:31])
        for col, title in enumerate(columns()):
            sheet.set_column(col, col, 28 if col == 2 else 11)
            sheet.write_string(0, col, title, head)
        sheet.freeze_panes(1, 0)
        for row, cells in enumerate(iter_rows(period, qs), start=1):
            for col, cell in enumerate(cells):
                if isinstance(cell, Decimal):
                    sheet.write_number(row, col, float(cell), money)
                elif isinstance(cell, int):
                    sheet.write_number(row, col, cell)
                else:
                    sheet.write_string(row, col, cell)
        notes = workbook.add_worksheet(_("说明"))
        notes.set_column(0, 0, 14)
        notes.set_column(1, 1, 90)
        lines = [
            (_("月份"), str(period)),
            (_("月份状态"), status_text(period)),
            (_("导出时间"), f"{timezone.localtime():%Y-%m-%d %H:%M}"),
            (_("导出人"), user.get_username() if user is not None else _("系统(命令行)")),
            (_("行数"), str(rows)),
            (_("调整行"), adjustment_note()),
            (_("关账"), correction_note()),
        ]
        if not period.is_closed:
            lines.insert(2, (_("暂定"), _("该月尚未关账,数据为暂定,关账前仍可能重新计算。")))
        for row, (label, text) in enumerate(lines):
            notes.write_string(row, 0, neutralize(label), head)
            notes.write_string(row, 1, neutralize(text), wrap)
    finally:
        workbook.close()


def adjustment_note() -> str:
    return _(
        "类型为“调整”的行更正“调整月份”所列的已关账月份:扣分、罚款为变动值,最终得分为更正后的该月得分,"
        "得分调整为应补发(正)或扣回(负)的分数。"
    )


def filename(period: PerformanceMonth, file_format: str) -> str:
    provisional = "" if period.is_closed else "_" + _("暂定")
    return f"{_('绩效扣分')}_{period}{provisional}.{file_format}"


def log_export(user, period: PerformanceMonth, *, file_format: str, encoding: str, rows: int, channel: str):
    """One ACCESS entry against PerformanceDeduction: who exported which month, how, how many rows."""
    detail = _("导出绩效扣分 %(m)s(%(s)s,%(f)s,%(n)s 行)") % {
        "m": period,
        "s": status_text(period),
        "f": file_format,
        "n": rows,
    }
    data = {
        "format": file_format,
        "encoding": encoding if file_format == "csv" else None,
        "month": str(period),
        "status": period.status,
        "rows": rows,
        "channel": channel,
    }
    return log_access(user, PerformanceDeduction, "export", detail, data=data, label=f"{_('绩效扣分')} {period}")


def write_file(path: str, period: PerformanceMonth, user, *, file_format: str, encoding: str, channel: str) -> int:
    """Write the export to ``path`` (complete or not at all: written beside it, then renamed); audited."""
    qs = deductions_queryset(period, user)
    rows = qs.count()
    folder = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".export-", suffix=f".{file_format}", dir=folder)
    os.close(handle)
    try:
        if file_format == "xlsx":
            write_xlsx(temp, period, qs, rows=rows, user=user)
        else:
            write_csv(temp, period, qs, encoding=encoding)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    log_export(user, period, file_format=file_format, encoding=encoding, rows=rows, channel=channel)
    return rows


def export_response(user, month, *, file_format: str, encoding: str | None, channel: str, param: str = "month"):
    """The HTTP answer of the deductions screen and the API: CSV streamed, XLSX built then sent.

    Refuses (PermissionDenied) anyone but HR, auditors and department heads; a bad parameter raises
    a ValidationError naming it. The export is audited before the first byte leaves.
    """
    require_export_access(user)
    file_format, encoding = check_format(file_format or "", encoding)
    period = month if isinstance(month, PerformanceMonth) else export_month(month, param=param)
    qs = deductions_queryset(period, user)
    rows = qs.count()
    log_export(user, period, file_format=file_format, encoding=encoding, rows=rows, channel=channel)
    name = filename(period, file_format)
    if file_format == "csv":
        charset = "gbk" if encoding == "gbk" else "utf-8"
        response = StreamingHttpResponse(csv_chunks(period, qs, encoding), content_type=f"text/csv; charset={charset}")
        response["Content-Disposition"] = content_disposition_header(True, name)
    else:
        descriptor, temp = tempfile.mkstemp(suffix=".xlsx")
        os.close(descriptor)
        try:
            write_xlsx(temp, period, qs, rows=rows, user=user)
            stream = open(temp, "rb")  # noqa: SIM115 - FileResponse closes it
        finally:
            os.unlink(temp)  # the open handle keeps the data until the response is sent
        response = FileResponse(stream, as_attachment=True, filename=name)
    response["Cache-Control"] = "private, no-store"
    return response

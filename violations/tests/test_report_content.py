"""The report's rows, columns, totals, encodings and formula neutralisation (CSV and XLSX)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import openpyxl
import pytest

from portal.exports import neutralize
from violations import reports, services
from violations.deductions import close_month, compute_month
from violations.models import PerformanceDeduction, Violation

from .conftest import at
from .report_data import INJECTIONS, OCTOBER, active_totals, csv_rows, make_october


@pytest.fixture
def october(hr, org, sanction):
    return make_october(hr, org, sanction)


def write_xlsx(path, qs, **kwargs):
    return reports.write_xlsx(str(path), qs, deductions=PerformanceDeduction.objects.all(), **kwargs)


def october_qs(user=None, department=None):
    base = Violation.objects.visible_to(user) if user is not None else Violation.objects.all()
    return reports.report_queryset(base, reports.ReportParams(*OCTOBER), department)


def csv_of(qs, encoding="utf-8-sig") -> bytes:
    return b"".join(reports.csv_chunks(qs, encoding))


def test_csv_columns_and_rows_of_the_month(october, org):
    rows = csv_rows(csv_of(october_qs()))
    assert rows[0] == [
        *("日期", "工号", "姓名", "部门", "工作群", "平台", "条款编号", "条款"),
        *("处分", "罚款(元)", "扣绩效分", "状态", "申诉结果"),
    ]
    body = rows[1:]
    # Ordered by time; 1 November (Shanghai) is left out, 31 October 23:30 is in.
    assert [r[0] for r in body] == ["2026-10-05", "2026-10-10", "2026-10-20", "2026-10-31"]
    ad = body[0]
    fine, points = active_totals(october["ad"])
    assert ad[:7] == ["2026-10-05", "E0101", "张三", "总公司/销售部/华东区", "销售部工作群", "微信", "C06"]
    assert ad[7] == october["ad"].rule.title_zh
    assert ad[8].startswith("警告") and ad[9:] == [fine, str(points), "维持原处分", "维持"]
    tech = body[1]
    assert tech[1:6] == ["E0201", "孙七", "总公司/技术部", "技术部工作群", "企业微信"]
    assert tech[8] == "罚款" and tech[9] == "100.00"
    dismissed = body[2]
    assert dismissed[4:6] == ["", ""]  # outside any group
    assert dismissed[8:12] == ["", "0.00", "0", "不予处理"]  # withdrawn sanctions are not shown or summed
    insult = body[3]
    assert insult[8].split("、")[:2] == ["记过", "扣当月全额绩效"]
    assert insult[10] == str(active_totals(october["insult"])[1])


def test_range_and_department_subtree(october, org):
    params = reports.ReportParams(OCTOBER[0], at(2026, 10, 10, 0, 0).date())
    rows = csv_rows(csv_of(reports.report_queryset(Violation.objects.all(), params, org["sales"])))[1:]
    assert [r[1] for r in rows] == ["E0101"]  # 华东区 is inside 销售部; 技术部 is not; 10-10 is inside the range
    rows = csv_rows(csv_of(october_qs(department=org["tech"])))[1:]
    assert [r[1] for r in rows] == ["E0201"]


def test_department_head_sees_only_own_subtree(october, head_sales, head_tech):
    numbers = {r[1] for r in csv_rows(csv_of(october_qs(head_sales)))[1:]}
    assert numbers == {"E0101", "E0100"}
    numbers = {r[1] for r in csv_rows(csv_of(october_qs(head_tech)))[1:]}
    assert numbers == {"E0201"}


def test_bom_and_gbk(october, org):
    org["east_rep"].name = "张三😀€"
    org["east_rep"].save()
    utf8 = csv_of(october_qs())
    assert utf8.startswith(b"\xef\xbb\xbf") and utf8.count(b"\xef\xbb\xbf") == 1
    assert "张三😀€" in utf8.decode("utf-8-sig")
    gbk = csv_of(october_qs(), "gbk")
    assert not gbk.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(gbk, "gbk")
    assert rows[0][1] == "工号" and rows[1][2] == "张三??"  # emoji and € cannot be written in GBK
    with pytest.raises(reports.ReportError) as caught:
        csv_of(october_qs(), "latin-1")
    assert caught.value.field == "encoding"


@pytest.fixture
def injected(hr, org, sanction):
    made = []
    for index, text in enumerate(INJECTIONS):
        person = org["east_rep"].__class__.objects.create(
            employee_no=f"INJ{index}", name=text, department=org["east"], title="x"
        )
        # Stored as given (a legacy row: save() would normalise the 工号), the export must neutralise it.
        type(person).objects.filter(pk=person.pk).update(employee_no=text)
        made.append(sanction("C08", at(2026, 10, 2, 9, index), employee=person))
    org["sales_group"].name = '=HYPERLINK("http://evil","点我")'
    org["sales_group"].save()
    return made


def test_csv_neutralises_every_formula_prefix(injected):
    rows = csv_rows(csv_of(october_qs()))[1:]
    assert len(rows) == len(INJECTIONS)
    for row, text in zip(rows, INJECTIONS, strict=True):
        assert row[1] == "'" + text and row[2] == "'" + text
        assert row[1] == neutralize(text)
    for row in rows:
        for cell in row:
            assert not cell.lstrip(" \u3000\u200b").startswith(("=", "+", "-", "@", "|", "\t", "\r", "\n"))


def test_xlsx_cells_are_text_never_formulas(injected, org, sanction, tmp_path):
    sanction("C06", at(2026, 10, 3, 9, 0), employee=org["east_rep"], group=org["sales_group"])
    path = tmp_path / "r.xlsx"
    count = write_xlsx(path, october_qs())
    assert count == len(INJECTIONS) + 1
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["违规明细", "按部门汇总", "按条款类别汇总", "按工作群汇总", "按员工汇总"]
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.lstrip(" \u3000\u200b").startswith(
                        ("=", "+", "-", "@", "|", "\t", "\r", "\n")
                    )
    detail = book["违规明细"]
    # xlsxwriter stores a CR as the OOXML escape _x000D_ (Excel shows a CR); openpyxl leaves it escaped.
    names = [detail.cell(row=r, column=3).value.replace("_x000D_", "\r") for r in range(2, detail.max_row + 1)]
    assert set(names) == {"'" + t for t in INJECTIONS} | {"张三"}
    groups = [detail.cell(row=r, column=5).value for r in range(2, detail.max_row + 1)]
    assert '\'=HYPERLINK("http://evil","点我")' in groups


def test_xlsx_totals_add_up_to_the_detail(october, tmp_path):
    path = tmp_path / "r.xlsx"
    write_xlsx(path, october_qs())
    book = openpyxl.load_workbook(path)
    detail = list(book["违规明细"].iter_rows(min_row=2, values_only=True))
    assert len(detail) == 4
    assert isinstance(detail[0][9], float | int) and detail[0][0].date().isoformat() == "2026-10-05"
    fines = sum(Decimal(str(r[9])) for r in detail)
    points = sum(r[10] for r in detail)
    for title in ("按部门汇总", "按条款类别汇总", "按工作群汇总", "按员工汇总"):
        rows = list(book[title].iter_rows(min_row=2, values_only=True))
        body, total = rows[:-1], rows[-1]
        assert total[0] == "合计"
        head = next(book[title].iter_rows(max_row=1, values_only=True))
        first = head.index("违规数")
        metrics = total[first : first + 5]
        assert metrics[0] == 4 and metrics[1] == 3  # four violations, one dismissed
        assert Decimal(str(metrics[2])) == fines and metrics[3] == points
        assert sum(r[first] for r in body) == 4
    by_employee = {r[0]: r for r in book["按员工汇总"].iter_rows(min_row=2, values_only=True)}
    assert by_employee["E0100"][first + 4] >= 1  # 记过 of the B02 insult
    assert by_employee["E0101"][2] == "总公司/销售部/华东区"
    by_group = [r[0] for r in book["按工作群汇总"].iter_rows(min_row=2, values_only=True)]
    assert "(群外)" in by_group


def test_xlsx_splits_detail_past_the_sheet_row_limit(october, tmp_path, monkeypatch):
    monkeypatch.setattr(reports.xlsx, "XLSX_MAX_ROWS", 3)  # header + 2 rows per sheet
    path = tmp_path / "r.xlsx"
    assert write_xlsx(path, october_qs()) == 4
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["违规明细", "违规明细 (2)"]
    assert book["违规明细"].max_row == 3 and book["违规明细 (2)"].max_row == 3


def test_month_parsing_and_params_errors():
    assert reports.parse_month("2026-02") == (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28))
    for bad in ("2026-13", "202610", "", "十月"):
        with pytest.raises(reports.ReportError) as caught:
            reports.parse_month(bad)
        assert caught.value.field == "month"
    with pytest.raises(reports.ReportError) as caught:
        reports.ReportParams(OCTOBER[1], OCTOBER[0])
    assert caught.value.field == "end"
    with pytest.raises(reports.ReportError) as caught:
        reports.ReportParams()
    assert caught.value.field == "period"
    params = reports.ReportParams(*OCTOBER, department_id=3)
    assert reports.ReportParams.from_json(params.to_json()) == params
    assert params.slug() == "2026-10"


def test_english_titles_when_the_language_is_english(october):
    from django.utils import translation

    with translation.override("en"):
        rows = csv_rows(csv_of(october_qs()))
    assert rows[2][7] == october["fine"].rule.title_en


def test_streaming_reads_in_chunks(october):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Chunk size 1: four rows arrive as four chunks, all from one SELECT (through a server-side
    # cursor on PostgreSQL: DECLARE, then FETCH per chunk).
    with CaptureQueriesContext(connection) as queries:
        chunks = list(reports.csv_chunks(october_qs(), chunk_size=1))
    assert len(chunks) == 1 + 4
    assert b"".join(chunks).count(b"\n") == 5  # \r\n from Python, \n from PostgreSQL COPY
    selects = [q["sql"] for q in queries.captured_queries if "violations_violation" in q["sql"]]
    assert len(selects) == 1


def _employee_sheet(path):
    rows = list(openpyxl.load_workbook(path)["按员工汇总"].iter_rows(values_only=True))
    return rows[0], {r[0]: r for r in rows[1:-1]}


def test_xlsx_per_employee_sheet_shows_the_months_performance_score(october, hr, tmp_path):
    path = tmp_path / "before.xlsx"
    write_xlsx(path, october_qs())
    head, by_employee = _employee_sheet(path)
    column = head.index("2026-10 绩效得分")
    assert by_employee["E0101"][column] is None  # the deductions job has not run: empty, not 0

    compute_month("2026-10", acting_user=hr)
    regular = {d.employee.employee_no: d.final_score for d in PerformanceDeduction.objects.select_related("employee")}
    write_xlsx(path, october_qs())
    head, by_employee = _employee_sheet(path)
    assert {no: by_employee[no][column] for no in by_employee} == {no: regular[no] for no in by_employee}
    assert by_employee["E0100"][column] == 0  # the insult forfeits the month's performance pay


def test_xlsx_score_of_a_closed_month_follows_its_later_adjustment(october, hr, tmp_path):
    compute_month("2026-10", acting_user=hr)
    close_month("2026-10", acting_user=hr)
    services.dismiss_violation(october["insult"], "证据不足", acting_user=hr)  # overturned after closing
    compute_month("2026-11", acting_user=hr)
    adjustment = PerformanceDeduction.objects.get(employee__employee_no="E0100", kind="adjustment")
    assert adjustment.adjusts_month.isoformat() == "2026-10-01" and adjustment.final_score > 0
    path = tmp_path / "r.xlsx"
    write_xlsx(path, october_qs())
    head, by_employee = _employee_sheet(path)
    assert by_employee["E0100"][head.index("2026-10 绩效得分")] == adjustment.final_score


def test_xlsx_scores_only_from_the_deductions_the_exporter_may_see(october, hr, tmp_path):
    compute_month("2026-10", acting_user=hr)
    path = tmp_path / "r.xlsx"
    reports.write_xlsx(str(path), october_qs(), deductions=PerformanceDeduction.objects.none())
    head, by_employee = _employee_sheet(path)
    column = head.index("2026-10 绩效得分")
    assert all(row[column] is None for row in by_employee.values())

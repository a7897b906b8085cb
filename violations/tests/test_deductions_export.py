"""The month's deductions for payroll: CSV and XLSX content, scoping, audit, the command, the API, the admin."""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.urls import reverse

from groups.models import Employee
from portal.api.testing import api_for
from violations.deductions import close_month, compute_month
from violations.deductions.wording import correction_note
from violations.models import PerformanceDeduction, PerformanceMonth

from .conftest import at

OCT, NOV = datetime.date(2026, 10, 1), datetime.date(2026, 11, 1)
URL = "/api/v1/deductions/export/"
HEADER = [
    "工号",
    "姓名",
    "部门",
    "类型",
    "调整月份",
    "基础分",
    "扣分",
    "扣当月全额绩效",
    "罚款合计(元)",
    "最终得分",
    "得分调整",
    "处分数",
    "月份状态",
]
pytestmark = pytest.mark.django_db


@pytest.fixture
def months(org, hr, sanction):
    """October closed (张三 2 points); then a late October violation of 孙七 and a November one of 张三."""
    sanction("C06", at(2026, 10, 5, 10, 0), employee=org["east_rep"])
    close_month(OCT, acting_user=hr)
    sanction("R01", at(2026, 10, 30, 18, 0), employee=org["tech_dev"], group=org["tech_group"])
    sanction("C07", at(2026, 10, 30, 19, 0), employee=org["tech_dev"], group=org["tech_group"])
    sanction("C06", at(2026, 11, 3, 10, 0), employee=org["east_rep"])
    compute_month(NOV, acting_user=hr)
    return {p.month: p for p in PerformanceMonth.objects.all()}


def csv_rows(body: bytes, encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(encoding))))


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def by_key(rows):
    return {(row[0], row[3], row[4]): row for row in rows[1:]}


def test_csv_has_the_month_its_adjustments_and_its_provisional_status(months, hr):
    response = api_for(hr).get(URL, {"month": "2026-11", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert "%E6%9A%82%E5%AE%9A" in response["Content-Disposition"]  # 暂定 in the file name
    body = content(response)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(body)
    assert rows[0] == HEADER
    keyed = by_key(rows)
    assert len(rows) == 1 + 5 + 1  # five active employees' November rows and one adjustment
    assert keyed[("E0101", "常规", "")][1:3] == ["张三", "总公司/销售部/华东区"]
    assert keyed[("E0101", "常规", "")][5:12] == ["100", "2", "否", "0.00", "98", "0", "2"]
    assert keyed[("E0201", "常规", "")][5:12] == ["100", "0", "否", "0.00", "100", "0", "0"]
    # The late October violations: a line of their own for the closed month, right under the regular one.
    assert keyed[("E0201", "调整", "2026-10")][5:12] == ["100", "10", "是", "100.00", "0", "-100", "4"]
    assert [row[3] for row in rows[1:] if row[0] == "E0201"] == ["常规", "调整"]
    assert {row[12] for row in rows[1:]} == {"未关账(暂定)"}


def test_closed_month_says_so_and_gbk_csv(months, hr):
    response = api_for(hr).get(URL, {"month": "2026-10", "format": "csv", "encoding": "gbk"})
    assert response["Content-Type"] == "text/csv; charset=gbk"
    rows = csv_rows(content(response), "gbk")
    assert rows[0] == HEADER and {row[12] for row in rows[1:]} == {"已关账"}
    assert by_key(rows)[("E0101", "常规", "")][6] == "2"
    assert not any(row[3] == "调整" for row in rows)


def test_xlsx_numbers_status_and_the_correction_note(months, hr, tmp_path):
    response = api_for(hr).get(URL, {"month": "2026-11", "format": "xlsx"})
    assert response.status_code == 200
    path = tmp_path / "out.xlsx"
    path.write_bytes(content(response))
    book = openpyxl.load_workbook(path)
    sheet, notes = book.worksheets
    assert sheet.title == "绩效扣分 2026-11 未关账(暂定)"
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER
    [adjustment] = [r for r in rows if r[3] == "调整"]
    assert adjustment[:5] == ["E0201", "孙七", "总公司/技术部", "调整", "2026-10"]
    assert adjustment[5:12] == [100, 10, "是", 100, 0, -100, 4]  # numbers, not text
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    texts = {r[0]: r[1] for r in notes.iter_rows(values_only=True)}
    assert texts["月份状态"] == "未关账(暂定)" and "暂定" in texts["暂定"]
    assert texts["关账"] == correction_note() and texts["行数"] == "6"


def test_closed_month_xlsx_has_no_provisional_line(months, hr, tmp_path):
    path = tmp_path / "oct.xlsx"
    path.write_bytes(content(api_for(hr).get(URL, {"month": "2026-10"})))  # xlsx by default
    book = openpyxl.load_workbook(path)
    assert book.worksheets[0].title == "绩效扣分 2026-10 已关账"
    assert "暂定" not in {r[0] for r in book.worksheets[1].iter_rows(values_only=True)}


def test_formula_cells_are_neutralised(months, hr, org, tmp_path):
    Employee.objects.filter(pk=org["east_rep"].pk).update(name="=cmd|' /C calc'!A0")
    Employee.objects.filter(pk=org["tech_dev"].pk).update(name="\u3000+SUM(1)")
    rows = csv_rows(content(api_for(hr).get(URL, {"month": "2026-11", "format": "csv"})))
    names = {row[0]: row[1] for row in rows[1:]}
    assert names["E0101"] == "'=cmd|' /C calc'!A0" and names["E0201"] == "'\u3000+SUM(1)"
    path = tmp_path / "f.xlsx"
    path.write_bytes(content(api_for(hr).get(URL, {"month": "2026-11", "format": "xlsx"})))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert {c.value for c in cells} >= {"'=cmd|' /C calc'!A0"} and all(c.data_type == "s" for c in cells)


@pytest.mark.parametrize(
    "who, nos",
    [
        ("hr", {"E0001", "E0100", "E0101", "E0200", "E0201"}),
        ("auditor", {"E0001", "E0100", "E0101", "E0200", "E0201"}),
        ("head_sales", {"E0100", "E0101"}),
        ("head_tech", {"E0200", "E0201"}),
    ],
)
def test_each_exporter_gets_their_scope(request, months, who, nos):
    rows = csv_rows(content(api_for(request.getfixturevalue(who)).get(URL, {"month": "2026-11", "format": "csv"})))
    assert {row[0] for row in rows[1:]} == nos


@pytest.mark.parametrize("who", ["employee_user", "group_admin", "outsider_user"])
def test_others_are_refused_and_nothing_is_logged(request, months, who):
    response = api_for(request.getfixturevalue(who)).get(URL, {"month": "2026-11", "format": "csv"})
    assert response.status_code == 403
    assert not LogEntry.objects.filter(additional_data__access="export").exists()


def test_the_export_is_audited(months, head_sales):
    api_for(head_sales).get(URL, {"month": "2026-11", "format": "csv", "encoding": "gbk"})
    entry = LogEntry.objects.get(additional_data__access="export")
    assert entry.actor == head_sales
    assert entry.content_type == ContentType.objects.get_for_model(PerformanceDeduction)
    assert entry.object_repr == "绩效扣分 2026-11" and "2026-11" in entry.changes_text
    data = entry.additional_data
    assert (data["month"], data["format"], data["encoding"], data["rows"], data["channel"], data["status"]) == (
        "2026-11",
        "csv",
        "gbk",
        2,
        "api",
        "open",
    )


@pytest.mark.parametrize(
    "params, field, text",
    [
        ({"month": "2026-13"}, "month", "参数 month 的月份格式应为 YYYY-MM"),
        ({}, "month", "参数 month 的月份格式应为 YYYY-MM"),
        ({"month": "2026-09"}, "month", "2026-09 尚未计算绩效扣分"),
        ({"month": "2026-11", "format": "pdf"}, "format", "参数 format 只能是 csv 或 xlsx"),
        ({"month": "2026-11", "format": "csv", "encoding": "latin1"}, "encoding", "参数 encoding 只能是"),
    ],
)
def test_bad_parameters_are_named_in_chinese(months, hr, params, field, text):
    response = api_for(hr).get(URL, params)
    assert response.status_code == 400
    assert text in response.json()["error"]["fields"][field][0]
    assert not LogEntry.objects.filter(additional_data__access="export").exists()


def test_command_writes_csv_and_xlsx_and_audits(months, tmp_path, head_tech):
    out = tmp_path / "nov.csv"
    stdout = io.StringIO()
    call_command(
        "export_deductions",
        "--month",
        "2026-11",
        "--format",
        "csv",
        "--encoding",
        "gbk",
        "--output",
        str(out),
        stdout=stdout,
    )
    rows = csv_rows(out.read_bytes(), "gbk")
    assert rows[0] == HEADER and len(rows) == 7 and "6 rows" in stdout.getvalue()
    entry = LogEntry.objects.get(additional_data__access="export")
    assert entry.actor is None and entry.additional_data["channel"] == "system"

    xlsx = tmp_path / "nov.xlsx"
    call_command(
        "export_deductions",
        "--month",
        "2026-11",
        "--format",
        "xlsx",
        "--output",
        str(xlsx),
        "--actor",
        "head_tech",
        stdout=io.StringIO(),
    )
    sheet = openpyxl.load_workbook(xlsx).worksheets[0]
    assert {r[0] for r in sheet.iter_rows(min_row=2, values_only=True)} == {"E0200", "E0201"}
    assert LogEntry.objects.filter(additional_data__access="export", actor=head_tech).count() == 1


@pytest.mark.parametrize(
    "args, text",
    [
        (["--month", "2026-13", "--format", "csv"], "--month: 参数 month 的月份格式应为 YYYY-MM"),
        (["--month", "2026-09", "--format", "csv"], "--month: 2026-09 尚未计算绩效扣分"),
        (["--month", "2026-11", "--format", "ods"], "--format:"),
        (["--month", "2026-11", "--format", "xlsx", "--encoding", "gbk"], "--encoding: applies to --format csv only"),
        (["--month", "2026-11", "--format", "csv", "--actor", "employee"], "--actor: 只有人资、审计和部门负责人"),
        (["--month", "2026-11", "--format", "csv", "--actor", "nobody"], "--actor: no active user"),
    ],
)
def test_command_refuses_bad_arguments_and_writes_nothing(months, tmp_path, employee_user, args, text):
    out = tmp_path / "x.csv"
    with pytest.raises(CommandError, match=text.replace("|", r"\|")):
        call_command("export_deductions", *args, "--output", str(out))
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_admin_month_page_and_list_offer_the_export(months, client, hr):
    client.force_login(hr)
    november = months[NOV]
    export_url = reverse("admin:violations_performancemonth_export", args=[november.pk])
    months_page = client.get(reverse("admin:violations_performancemonth_changelist"))
    assert f"{export_url}?format=xlsx" in months_page.text
    listing = client.get(reverse("admin:violations_performancededuction_changelist"), {"month": "2026-11"})
    assert f"{export_url}?format=csv" in listing.text and "未关账,导出的数据为暂定" in listing.text
    assert correction_note() in listing.text
    closed = client.get(reverse("admin:violations_performancededuction_changelist"), {"month": "2026-10"})
    assert "2026-10 已关账。" + correction_note() in closed.text
    response = client.get(export_url, {"format": "csv"})
    assert response.status_code == 200 and csv_rows(content(response))[0] == HEADER
    assert LogEntry.objects.get(additional_data__access="export").additional_data["channel"] == "admin"


def test_admin_export_bad_format_is_a_message(months, client, hr):
    client.force_login(hr)
    url = reverse("admin:violations_performancemonth_export", args=[months[NOV].pk])
    response = client.get(url, {"format": "pdf"}, follow=True)
    assert "参数 format 只能是 csv 或 xlsx" in response.text
    assert not LogEntry.objects.filter(additional_data__access="export").exists()


def test_admin_export_needs_the_view_permission(months, client, group_admin):
    group_admin.is_staff = True
    group_admin.save()
    client.force_login(group_admin)
    url = reverse("admin:violations_performancemonth_export", args=[months[NOV].pk])
    assert client.get(url, {"format": "csv"}).status_code == 403


def test_one_wording_of_where_corrections_go(months, hr, client):
    """The computation, the compute form and the close page all give the same explanation."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        compute_month(OCT, acting_user=hr)
    assert exc.value.message_dict["month"] == ["2026-10 已关账。" + correction_note()]
    client.force_login(hr)
    form = client.post(reverse("admin:violations_performancemonth_compute"), {"month": "2026-10"})
    assert "2026-10 已关账。" + correction_note() in form.text
    close = client.get(reverse("admin:violations_performancemonth_close", args=[months[NOV].pk]))
    assert correction_note() in close.text

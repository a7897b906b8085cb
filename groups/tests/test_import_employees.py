"""Employee roster import: upsert by 工号, departments from paths, departures, idempotence, errors."""

import datetime as dt

import pytest
from auditlog.models import LogEntry

from groups.importing.errors import ImportValidationError
from groups.models import Department, Employee

from .import_helpers import EMP_HEADER, run_employees, write_csv, write_xlsx

pytestmark = pytest.mark.django_db

GOOD = [
    EMP_HEADER,
    ["E0101", "张三", "总公司/销售部/华东区", "高级销售", "在职", "2020-01-02", "", "wx_zhangsan"],
    ["N0001", "钱八", "总公司/市场部/品牌组", "专员", "在职", "2026/11/3", "", "wx_qian"],
    ["E0201", "孙七", "总公司/技术部", "工程师", "离职", "2021.5.6", "2026年11月3日", ""],
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "xlsx"])
def test_every_encoding_imports_the_same(org, tmp_path, encoding):
    path = (
        write_xlsx(tmp_path / "r.xlsx", GOOD) if encoding == "xlsx" else write_csv(tmp_path / "r.csv", GOOD, encoding)
    )
    summary = run_employees(path)
    assert summary == {
        "rows": 3,
        "created": 1,
        "updated": 2,
        "unchanged": 0,
        "departed": 1,
        "departments_created": 2,
        "no_change": False,
    }
    new = Employee.objects.get(employee_no="N0001")
    assert new.department.name_path == "总公司/市场部/品牌组"
    assert new.hire_date == dt.date(2026, 11, 3)
    assert Employee.objects.get(employee_no="E0101").title == "高级销售"
    departed = Employee.objects.get(employee_no="E0201")
    assert (departed.status, departed.departure_date) == ("departed", dt.date(2026, 11, 3))


def test_reimport_of_the_same_file_changes_nothing_and_says_so(org, tmp_path):
    path = write_csv(tmp_path / "r.csv", GOOD)
    run_employees(path)
    stamps = dict(Employee.objects.values_list("employee_no", "updated_at"))
    summary = run_employees(path)
    assert summary["no_change"] is True
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 3)
    assert dict(Employee.objects.values_list("employee_no", "updated_at")) == stamps


def test_columns_absent_from_the_file_are_left_alone(org, tmp_path):
    run_employees(write_csv(tmp_path / "r.csv", [["工号", "姓名", "部门"], ["E0101", "张三", "总公司/销售部/华东区"]]))
    rep = Employee.objects.get(employee_no="E0101")
    assert (rep.wechat_id, rep.title, rep.status) == ("wx_zhangsan", "销售代表", "active")


def test_english_headers_and_xlsx_numbers(org, tmp_path):
    rows = [
        ["employee_no", "name", "department", "status", "hire_date", "email"],
        [90001, "Li Lei", "总公司/技术部", "active", dt.datetime(2024, 3, 1), "li@example.com"],
    ]
    run_employees(write_xlsx(tmp_path / "r.xlsx", rows))
    emp = Employee.objects.get(employee_no="90001")
    assert (emp.hire_date, emp.email) == (dt.date(2024, 3, 1), "li@example.com")


def test_formula_like_values_are_stored_as_plain_text(org, tmp_path):
    rows = [["工号", "姓名", "部门", "职位"], ["F1", '=HYPERLINK("x")', "总公司", "+cmd|' /C calc'!A0"]]
    rows.append(["F2", "@SUM(1+1)", "总公司", "-2+3"])
    run_employees(write_csv(tmp_path / "r.csv", rows))
    assert Employee.objects.get(employee_no="F1").name == '=HYPERLINK("x")'
    assert Employee.objects.get(employee_no="F1").title == "+cmd|' /C calc'!A0"
    assert (Employee.objects.get(employee_no="F2").name, Employee.objects.get(employee_no="F2").title) == (
        "@SUM(1+1)",
        "-2+3",
    )


def test_xlsx_formula_cells_are_stored_as_their_text(org, tmp_path):
    run_employees(write_xlsx(tmp_path / "r.xlsx", [["工号", "姓名", "部门"], ["F3", "=1+1", "总公司"]]))
    assert Employee.objects.get(employee_no="F3").name == "=1+1"


def test_one_audit_entry_per_import(org, tmp_path):
    before = LogEntry.objects.count()
    run_employees(write_csv(tmp_path / "r.csv", GOOD))
    entries = LogEntry.objects.filter(additional_data__kind="employees")
    assert entries.count() == 1
    assert entries.get().additional_data["summary"]["created"] == 1
    # the two new departments (created in bulk) and the employees: named by the one summary entry
    assert LogEntry.objects.count() - before == 1
    assert len(entries.get().additional_data["departments_created"]) == 2


BAD_ROWS = [
    (["E9", "", "总公司", "", "在职", "", "", ""], "第2行, 姓名: 不能为空"),
    (["", "无号", "总公司", "", "在职", "", "", ""], "第2行, 工号: 不能为空"),
    (["E9", "甲", "总公司//销售部", "", "在职", "", "", ""], "第2行, 部门: 不能为空"),
    (["E9", "甲", "总公司", "", "休假", "", "", ""], "第2行, 状态: 无法识别的状态 休假"),
    (["E9", "甲", "总公司", "", "在职", "2026-02-30", "", ""], "第2行, 入职日期: 日期不存在"),
    (["E9", "甲", "总公司", "", "在职", "下周一", "", ""], "第2行, 入职日期: 无法识别的日期"),
    (["E9", "甲", "总公司", "", "离职", "2026-05-01", "2026-04-30", ""], "第2行, 离职日期: 离职日期 2026-04-30 早于"),
    (["E9", "甲", "总公司", "", "在职", "", "", "", "多余"], "第2行, 整行: 列数(9)多于表头(8)"),
    (["E9", "甲" * 101, "总公司", "", "在职", "", "", ""], "第2行, 姓名: 超过 100 个字符"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_each_bad_row_refuses_the_whole_file(org, tmp_path, row, message):
    good = ["N0002", "周九", "总公司/新部门", "", "在职", "", "", ""]
    path = write_csv(tmp_path / "r.csv", [EMP_HEADER, row, good])
    counts = (Employee.objects.count(), Department.objects.count())
    with pytest.raises(ImportValidationError) as info:
        run_employees(path)
    assert any(message in m for m in info.value.messages), info.value.messages
    assert (Employee.objects.count(), Department.objects.count()) == counts


def test_duplicate_employee_no_names_both_rows(org, tmp_path):
    rows = [EMP_HEADER, ["D1", "甲", "总公司", "", "", "", "", ""], ["D1", "乙", "总公司", "", "", "", "", ""]]
    with pytest.raises(ImportValidationError) as info:
        run_employees(write_csv(tmp_path / "r.csv", rows))
    assert info.value.messages == ["第3行, 工号: 工号 D1 重复(与第2行相同)"]
    assert not Employee.objects.filter(employee_no="D1").exists()


def test_every_error_is_listed_not_only_the_first(org, tmp_path):
    rows = [EMP_HEADER] + [[f"X{i}", "", "总公司", "", "在职", "bad", "", ""] for i in range(3)]
    with pytest.raises(ImportValidationError) as info:
        run_employees(write_csv(tmp_path / "r.csv", rows))
    assert len(info.value.messages) == 6


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["工号", "姓名"], ["E1", "甲"]], "第1行, 部门: 缺少必需的列"),
        ([["工号", "姓名", "部门", "爱好"], ["E1", "甲", "总公司", "x"]], "第1行, 爱好: 未知的列"),
        ([EMP_HEADER], "第2行, 文件: 文件没有数据行"),
    ],
)
def test_file_level_errors(org, tmp_path, rows, message):
    count = Employee.objects.count()
    with pytest.raises(ImportValidationError) as info:
        run_employees(write_csv(tmp_path / "r.csv", rows))
    assert message in info.value.messages
    assert Employee.objects.count() == count


def test_dry_run_writes_nothing(org, tmp_path):
    count = Employee.objects.count()
    summary = run_employees(write_csv(tmp_path / "r.csv", GOOD), dry_run=True)
    assert summary["created"] == 1
    assert Employee.objects.count() == count
    assert not Department.objects.filter(name="市场部").exists()


def test_departure_date_without_status_column_records_the_departure(org, tmp_path):
    rows = [["工号", "姓名", "部门", "离职日期"], ["E0101", "张三", "总公司/销售部/华东区", "2026-11-01"]]
    summary = run_employees(write_csv(tmp_path / "r.csv", rows))
    assert summary["departed"] == 1
    assert Employee.objects.get(employee_no="E0101").status == "departed"


def test_moving_an_employee_to_another_department(org, tmp_path):
    rows = [["工号", "姓名", "部门"], ["E0101", "张三", "总公司/技术部"]]
    summary = run_employees(write_csv(tmp_path / "r.csv", rows))
    assert summary["updated"] == 1
    assert Employee.objects.get(employee_no="E0101").department == org["tech"]

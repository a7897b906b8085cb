"""Reading roster files: encodings, header variants, dates and other cell values."""

import datetime as dt

import pytest

from groups.importing.columns import EMPLOYEE_COLUMNS, HeaderError, map_header
from groups.importing.errors import ImportFileError
from groups.importing.readers import count_rows, open_table
from groups.importing.values import parse_bool, parse_date, parse_datetime, parse_status

from .import_helpers import EMP_HEADER, write_csv, write_xlsx

ROWS = [EMP_HEADER, ["E1", "张三", "总公司/销售部", "销售", "在职", "2026-11-03", "", "wx1"]]


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_encodings_decode_to_the_same_rows(tmp_path, encoding, detected):
    table = open_table(write_csv(tmp_path / "r.csv", ROWS, encoding))
    assert table.encoding == detected
    assert table.header == EMP_HEADER
    assert [cells for _, cells in table.rows()] == [ROWS[1]]


def test_xlsx_rows_keep_native_cell_types(tmp_path):
    hired = dt.datetime(2026, 11, 3, 9, 30)
    table = open_table(write_xlsx(tmp_path / "r.xlsx", [EMP_HEADER, [1001, "张三", "总公司", "", "在职", hired]]))
    assert table.encoding == "xlsx"
    ((number, cells),) = list(table.rows())
    assert number == 2
    assert cells[0] == 1001
    assert cells[5] == hired


def test_blank_rows_are_skipped_and_row_numbers_stay_spreadsheet_numbers(tmp_path):
    path = write_csv(tmp_path / "r.csv", [EMP_HEADER, ["", "", ""], ROWS[1]])
    assert [n for n, _ in open_table(path).rows()] == [3]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file_is_refused(tmp_path, content):
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match="文件为空"):
        open_table(path)


def test_undecodable_bytes_are_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("工号,姓名\n".encode() + b"\x81\x30\xff\xfe\xfd\n")
    with pytest.raises(ImportFileError, match="编码"):
        open_table(path)


def test_utf16_without_bom_and_binary_files_are_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("工号,姓名\n".encode("utf-16-le"))
    with pytest.raises(ImportFileError, match="不是 CSV 或 XLSX"):
        open_table(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ImportFileError, match="不是 CSV 或 XLSX"):
        open_table(path)


def test_fake_xlsx_is_refused(tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError, match="XLSX"):
        list(open_table(path).rows())


def test_garbage_decode_is_caught_by_the_header_check(tmp_path):
    # UTF-8 Chinese decoded as GB18030 gives mojibake (张三 → 寮犱笁): no known column survives.
    mojibake = "工号,姓名,部门".encode().decode("gb18030", errors="replace").split(",")
    with pytest.raises(ImportFileError, match="无法识别的表头"):
        map_header(mojibake, EMPLOYEE_COLUMNS)


@pytest.mark.parametrize(
    "header",
    [
        ["工号", "姓名", "部门"],
        ["employee_no", "name", "department"],
        ["Employee No", "Name", "Department"],
        ["员工编号", "员工姓名", "所属部门"],
        ["\ufeff工号", " 姓名 ", "部门"],
    ],
)
def test_header_variants_map_to_the_same_columns(header):
    assert map_header(header, EMPLOYEE_COLUMNS) == {"employee_no": 0, "name": 1, "department": 2}


def test_unknown_duplicate_and_missing_columns_are_all_listed():
    with pytest.raises(HeaderError) as info:
        map_header(["工号", "工号", "爱好"], EMPLOYEE_COLUMNS)
    text = "\n".join(info.value.messages)
    assert "第1行, 工号: 列重复" in text
    assert "第1行, 爱好: 未知的列" in text
    assert "第1行, 姓名: 缺少必需的列" in text
    assert "第1行, 部门: 缺少必需的列" in text


@pytest.mark.parametrize(
    "value",
    ["2026-11-03", "2026/11/3", "2026.11.3", "2026年11月3日", "46329", 46329, 46329.0, dt.date(2026, 11, 3)],
)
def test_date_spellings(value):
    assert parse_date(value) == dt.date(2026, 11, 3)


def test_datetime_cell_becomes_a_date():
    assert parse_date(dt.datetime(2026, 11, 3, 8, 0)) == dt.date(2026, 11, 3)


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "昨天", "3/11/2026", "0"])
def test_bad_dates_raise(value):
    with pytest.raises(ValueError):
        parse_date(value)


def test_datetimes_are_aware_in_shanghai():
    value = parse_datetime("2026-11-03 09:30")
    assert value.utcoffset() == dt.timedelta(hours=8)
    assert (value.hour, value.minute) == (9, 30)
    assert parse_datetime("2026/11/3") == parse_datetime("2026-11-03 00:00:00")
    assert parse_datetime(46329.5).hour == 12


def test_status_and_flags():
    assert parse_status("在职") == "active"
    assert parse_status("离职") == "departed"
    assert parse_status("Departed") == "departed"
    assert parse_status("") is None
    with pytest.raises(ValueError, match="状态"):
        parse_status("休假")
    assert parse_bool("是") is True
    assert parse_bool("否") is False
    with pytest.raises(ValueError):
        parse_bool("也许")


def test_count_rows_for_csv_and_xlsx(tmp_path):
    assert count_rows(write_csv(tmp_path / "r.csv", [*ROWS, ROWS[1]])) == 2
    assert count_rows(write_xlsx(tmp_path / "r.xlsx", [*ROWS, ROWS[1], ROWS[1]])) == 3

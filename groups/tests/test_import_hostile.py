"""Hostile and broken roster files are refused quickly, whole, in Chinese, and leave nothing behind.

Issue #11: zip bombs, oversized sheets, mixed encodings, NUL bytes, values the database would
refuse, the same person spelled twice. Each test runs on both databases (scripts/test.sh).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import struct
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from groups import services
from groups.choices import ImportKind, ImportStatus
from groups.importing import employees as employee_import
from groups.importing.errors import ImportFileError, ImportValidationError
from groups.importing.readers import check_xlsx, count_rows, open_table
from groups.models import Employee, ImportJob

from .import_helpers import EMP_HEADER, run_employees, write_csv, write_xlsx

pytestmark = pytest.mark.django_db

ROW = ["N1", "钱八", "总公司/市场部", "", "在职", "2026-11-03", "", "wx1"]


# --- building hostile files (small on disk, huge as declared) -------------------------------------


def declare_size(path: Path, member: str, size: int) -> Path:
    """Rewrite the uncompressed size the archive declares for ``member`` (local and central headers)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            start = at + 4
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, at + offset, size)
    path.write_bytes(bytes(data))
    return path


def replace_member(path: Path, member: str, content: bytes) -> Path:
    """The same XLSX with one member's content replaced (or added)."""
    source = zipfile.ZipFile(path)
    items = {info.filename: source.read(info) for info in source.infolist()}
    source.close()
    items[member] = content
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in items.items():
            target.writestr(name, data)
    return path


def sheet_xml(dimension: str | None, rows: int = 2) -> bytes:
    def row(r: int) -> str:
        values = ("工号", "姓名", "部门") if r == 1 else (f"N{r}", "钱八", "总公司")
        return (
            f'<row r="{r}">'
            + "".join(
                f'<c r="{col}{r}" t="inlineStr"><is><t>{v}</t></is></c>' for col, v in zip("ABC", values, strict=True)
            )
            + "</row>"
        )

    cells = "".join(row(r) for r in range(1, rows + 1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + (f'<dimension ref="{dimension}"/>' if dimension else "")
        + f"<sheetData>{cells}</sheetData></worksheet>"
    ).encode()


@pytest.fixture
def never_parsed(monkeypatch):
    """Fails the test if openpyxl is asked to parse the workbook."""

    def refuse(*args, **kwargs):
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr("openpyxl.load_workbook", refuse)


def xlsx(tmp_path, name="r.xlsx", rows=None) -> Path:
    return write_xlsx(tmp_path / name, rows or [EMP_HEADER, ROW])


def test_declared_gigabytes_of_shared_strings_are_refused_before_parsing(tmp_path, never_parsed):
    path = replace_member(xlsx(tmp_path), "xl/sharedStrings.xml", b"<sst/>")
    declare_size(path, "xl/sharedStrings.xml", 3 * 1024**3 - 1)
    with pytest.raises(ImportFileError, match="压缩炸弹"):
        check_xlsx(path)
    with pytest.raises(ImportValidationError, match="压缩炸弹"):
        run_employees(path)
    assert count_rows(path) == 0


def test_a_highly_compressed_member_is_refused(tmp_path, never_parsed):
    path = replace_member(xlsx(tmp_path), "xl/sharedStrings.xml", b"<sst>" + b"\x20" * (8 * 1024 * 1024) + b"</sst>")
    assert os.path.getsize(path) < 100_000
    with pytest.raises(ImportFileError, match="压缩炸弹"):
        check_xlsx(path)


def test_a_sheet_declaring_twenty_million_rows_is_refused_before_parsing(tmp_path, never_parsed):
    path = replace_member(xlsx(tmp_path), "xl/worksheets/sheet1.xml", sheet_xml("A1:L20000000"))
    with pytest.raises(ImportValidationError, match="行数超过上限 300000 行"):
        run_employees(path)


def test_a_sheet_declaring_too_many_columns_is_refused(tmp_path, never_parsed):
    path = replace_member(xlsx(tmp_path), "xl/worksheets/sheet1.xml", sheet_xml("A1:XFD2"))
    with pytest.raises(ImportValidationError, match="列数超过上限 100 列"):
        run_employees(path)


def test_rows_beyond_the_cap_are_refused_while_streaming(tmp_path, settings):
    """A sheet may omit its dimension (write-only generators): rows are counted as they stream."""
    settings.ROSTER_MAX_ROWS = 3
    path = replace_member(xlsx(tmp_path), "xl/worksheets/sheet1.xml", sheet_xml(None, rows=8))
    with pytest.raises(ImportValidationError, match="第5行, 文件: 行数超过上限 3 行"):
        run_employees(path)
    csv_path = write_csv(tmp_path / "r.csv", [EMP_HEADER] + [[f"N{n}", *ROW[1:]] for n in range(6)])
    with pytest.raises(ImportValidationError, match="第5行, 文件: 行数超过上限 3 行"):
        run_employees(csv_path)


def test_columns_beyond_the_cap_are_refused(tmp_path, settings):
    settings.ROSTER_MAX_COLUMNS = 9
    wide = [*ROW, "", "", "x"]
    with pytest.raises(ImportValidationError, match="文件: 列数超过上限 9 列"):  # from the <dimension>
        run_employees(xlsx(tmp_path, rows=[EMP_HEADER, wide]))
    with pytest.raises(ImportValidationError, match="第2行, 文件: 列数超过上限 9 列"):
        run_employees(write_csv(tmp_path / "r.csv", [EMP_HEADER, wide]))


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr)
    return client


def upload(client, content: bytes, name: str = "花名册.xlsx", kind: str = "employees"):
    file = SimpleUploadedFile(name, content)
    return client.post(reverse("groups:import_upload", args=[kind]), {"file": file})


def test_a_bomb_through_the_admin_leaves_a_failed_job_and_no_file(hr_client, tmp_path, settings, never_parsed):
    path = replace_member(xlsx(tmp_path), "xl/worksheets/sheet1.xml", sheet_xml("A1:L20000000"))
    response = upload(hr_client, path.read_bytes())
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.INVALID and "行数超过上限" in job.errors[0]
    assert not job.file and not [p for p in Path(settings.MEDIA_ROOT).glob("imports/**/*") if p.is_file()]
    page = hr_client.get(response.url).content.decode()
    assert "行数超过上限" in page


def test_a_bomb_through_the_command_is_refused_in_chinese(org, tmp_path, never_parsed):
    path = replace_member(xlsx(tmp_path), "xl/sharedStrings.xml", b"<sst/>")
    declare_size(path, "xl/sharedStrings.xml", 3 * 1024**3 - 1)
    with pytest.raises(CommandError, match="压缩炸弹"):
        call_command("import_roster", "employees", str(path), "--create-departments", verbosity=0)
    assert ImportJob.objects.get().status == ImportStatus.INVALID


def test_an_xlsx_named_csv_imports_through_the_command(org, tmp_path, capsys):
    path = xlsx(tmp_path, name="花名册.csv")
    call_command("import_roster", "employees", str(path), "--create-departments", verbosity=0)
    assert Employee.objects.filter(employee_no="N1", name="钱八").exists()


# --- the job row and the file -----------------------------------------------------------------------


def test_upload_stores_the_job_first_and_parses_nothing(org, hr, tmp_path, never_parsed):
    job = services.create_import_job(
        kind=ImportKind.EMPLOYEES, acting_user=hr, upload=SimpleUploadedFile("r.xlsx", xlsx(tmp_path).read_bytes())
    )
    job.refresh_from_db()
    assert job.status == ImportStatus.UPLOADED and job.total_rows == 0 and os.path.exists(job.file.path)


@pytest.mark.django_db(transaction=True)
def test_validation_holds_no_transaction_while_parsing(org, hr, tmp_path, monkeypatch):
    """On SQLite an open write transaction would make every other writer fail "database is locked"."""
    seen = []
    original_read, original_count = employee_import._RowReader.read, services.count_rows

    def read(self, number, cells):
        seen.append(("read", transaction.get_connection().in_atomic_block))
        return original_read(self, number, cells)

    def count(path):
        seen.append(("count", transaction.get_connection().in_atomic_block))
        return original_count(path)

    monkeypatch.setattr(employee_import._RowReader, "read", read)
    monkeypatch.setattr(services, "count_rows", count)
    upload_file = SimpleUploadedFile("r.csv", write_csv(tmp_path / "r.csv", [EMP_HEADER, ROW]).read_bytes())
    job = services.create_import_job(kind=ImportKind.EMPLOYEES, acting_user=hr, upload=upload_file)
    job = services.validate_import(job.pk)
    assert job.status == ImportStatus.PREVIEWED
    assert seen == [("count", False), ("read", False)]


def test_abandoned_and_orphaned_uploads_expire(org, hr, tmp_path, settings):
    def stored(name):
        return services.create_import_job(
            kind=ImportKind.EMPLOYEES, acting_user=hr, upload=SimpleUploadedFile(name, b"a,b\n1,2\n")
        )

    old, fresh = stored("old.csv"), stored("fresh.csv")
    ImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    old.refresh_from_db()
    fresh.refresh_from_db()
    orphan = Path(settings.MEDIA_ROOT) / "imports" / "employees" / "orphan.csv"
    orphan.write_bytes(b"personal data")
    os.utime(orphan, (0, 0))
    old_path, fresh_path = old.file.path, fresh.file.path
    assert services.expire_imports() == 2
    old.refresh_from_db()
    assert old.status == ImportStatus.CANCELLED and not old.file and not os.path.exists(old_path)
    assert not orphan.exists() and os.path.exists(fresh_path)
    assert ImportJob.objects.get(pk=fresh.pk).status == ImportStatus.UPLOADED


def test_a_crash_during_validation_leaves_a_failed_job_not_validating(org, hr, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom: an English traceback")

    monkeypatch.setattr(services, "_execute", crash)
    upload_file = SimpleUploadedFile("r.csv", write_csv(tmp_path / "r.csv", [EMP_HEADER, ROW]).read_bytes())
    job = services.create_import_job(kind=ImportKind.EMPLOYEES, acting_user=hr, upload=upload_file)
    path = job.file.path
    job = services.validate_import(job.pk)
    assert job.status == ImportStatus.FAILED and "系统错误" in job.errors[0] and "boom" not in job.errors[0]
    assert not os.path.exists(path)


def test_a_job_stuck_validating_can_be_revalidated_and_cancelled(hr_client, hr, tmp_path):
    upload_file = SimpleUploadedFile("r.csv", write_csv(tmp_path / "r.csv", [EMP_HEADER, ROW]).read_bytes())
    stuck = services.create_import_job(kind=ImportKind.EMPLOYEES, acting_user=hr, upload=upload_file)
    ImportJob.objects.filter(pk=stuck.pk).update(
        status=ImportStatus.VALIDATING, started_at=timezone.now() - dt.timedelta(hours=1)
    )
    page = hr_client.get(reverse("groups:import_job", args=[stuck.pk])).content.decode()
    assert "重新校验" in page and "取消并删除文件" in page
    hr_client.post(reverse("groups:import_validate", args=[stuck.pk]))
    stuck.refresh_from_db()
    assert stuck.status == ImportStatus.PREVIEWED

    ImportJob.objects.filter(pk=stuck.pk).update(status=ImportStatus.VALIDATING, started_at=timezone.now())
    hr_client.post(reverse("groups:import_cancel", args=[stuck.pk]))
    stuck.refresh_from_db()
    assert stuck.status == ImportStatus.CANCELLED and not stuck.file


# --- encodings, NUL, quoting ---------------------------------------------------------------------


def test_rows_mixing_utf8_and_gbk_are_refused_naming_the_first_bad_row(org, tmp_path):
    path = tmp_path / "r.csv"
    lines = [",".join(EMP_HEADER).encode(), ",".join(ROW).encode(), ",".join(["N2", "张三", "总公司"]).encode("gbk")]
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(ImportValidationError, match="第3行, 文件: 文件混用了 UTF-8 和 GBK"):
        run_employees(path)
    path.write_bytes(b"\n".join([",".join(EMP_HEADER).encode("gbk"), ",".join(ROW).encode()]) + b"\n")
    with pytest.raises(ImportValidationError, match="第2行, 文件: 文件混用了 UTF-8 和 GBK"):
        run_employees(path)
    assert not Employee.objects.filter(employee_no__in=["N1", "N2"]).exists()


def test_a_nul_after_the_first_4kb_is_refused_naming_its_row(org, hr, tmp_path):
    rows = [EMP_HEADER] + [[f"N{n}", "钱八", "总公司/市场部", "", "在职", "", "", ""] for n in range(200)]
    rows[150][1] = "钱\x00八"
    path = write_csv(tmp_path / "r.csv", rows)
    assert path.read_bytes().index(b"\x00") > 4096
    with pytest.raises(ImportValidationError, match="第151行, 文件: 包含空字符"):
        run_employees(path)
    job = services.create_import_job(
        kind=ImportKind.EMPLOYEES, acting_user=hr, upload=SimpleUploadedFile("r.csv", path.read_bytes())
    )
    job = services.validate_import(job.pk)
    assert job.status == ImportStatus.INVALID and "第151行" in job.errors[0]
    assert not Employee.objects.filter(employee_no="N0").exists()


def test_an_unterminated_quote_is_reported_not_read_as_an_empty_field(org, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(",".join(EMP_HEADER) + '\nN1,"钱八,总公司\nN2,张三,总公司\n', encoding="utf-8")
    with pytest.raises(ImportValidationError, match="第2行, 文件: 引号未闭合"):
        run_employees(path)


def test_excel_unicode_text_utf16_imports(org, hr_client, tmp_path):
    content = ("\t".join(EMP_HEADER) + "\r\n" + "\t".join(ROW) + "\r\n").encode("utf-16")
    path = tmp_path / "r.txt"
    path.write_bytes(content)
    table = open_table(path)
    assert table.encoding == "utf-16" and table.header == EMP_HEADER
    response = upload(hr_client, content, name="花名册.txt")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.status == ImportStatus.PREVIEWED, job.errors
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    assert Employee.objects.get(employee_no="N1").name == "钱八"


# --- values the database would refuse, named by row and field --------------------------------------


def rows_with(**changes) -> list[list]:
    row = dict(zip(EMP_HEADER, ROW, strict=True)) | changes
    return [EMP_HEADER, [row[h] for h in EMP_HEADER]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"状态": "在职", "离职日期": "2026-11-20"}, "第2行, 离职日期: 状态为在职,却填写了离职日期"),
        ({"姓名": "钱\n八"}, "第2行, 姓名: 包含换行"),
        ({"部门": "总公司/市场\t部"}, "第2行, 部门: 包含换行"),
        ({"入职日期": "0001-01-01"}, "第2行, 入职日期: 日期 0001-01-01 超出合理范围"),
        ({"入职日期": "2173-05-01"}, "第2行, 入职日期: 日期 2173-05-01 超出合理范围"),
        ({"离职日期": "1900-01-01", "状态": "离职", "入职日期": ""}, "第2行, 离职日期: 日期 1900-01-01 超出合理范围"),
        ({"工号": "1.23E+05"}, "第2行, 工号: 1.23E+05 是科学计数法:Excel"),
        ({"工号": "N\x0b1"}, "第2行, 工号: 包含换行"),
    ],
)
def test_values_the_database_would_refuse_name_row_and_field(org, tmp_path, changes, message):
    with pytest.raises(ImportValidationError, match=re.escape(message)):
        run_employees(write_csv(tmp_path / "r.csv", rows_with(**changes)))
    assert not Employee.objects.filter(employee_no="N1").exists()


def test_departure_before_the_stored_hire_date_fails_at_preview_not_at_confirm(org, tmp_path):
    Employee.objects.filter(pk=org["east_rep"].pk).update(hire_date=dt.date(2025, 6, 1))
    path = write_csv(
        tmp_path / "r.csv",
        [["工号", "姓名", "部门", "离职日期"], ["E0101", "张三", "总公司/销售部/华东区", "2025-01-31"]],
    )
    with pytest.raises(
        ImportValidationError, match="第2行, 离职日期: 离职日期 2025-01-31 早于系统中记录的入职日期 2025-06-01"
    ):
        run_employees(path, dry_run=True)
    Employee.objects.filter(pk=org["east_rep"].pk).update(hire_date=None, departure_date=dt.date(2025, 1, 31))
    path = write_csv(
        tmp_path / "r.csv",
        [["工号", "姓名", "部门", "入职日期"], ["E0101", "张三", "总公司/销售部/华东区", "2025-06-01"]],
    )
    with pytest.raises(ImportValidationError, match="第2行, 入职日期: 入职日期 2025-06-01 晚于系统中记录的离职日期"):
        run_employees(path)
    assert Employee.objects.get(pk=org["east_rep"].pk).hire_date is None


# --- the same person twice -------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["E0101\u200b", "\ufeffE0101", "Ｅ０１０１", " E0101\u3000", "E0101\u2060"])
def test_spellings_of_a_stored_number_update_the_same_employee(org, tmp_path, spelling):
    path = write_csv(tmp_path / "r.csv", [["工号", "姓名", "部门"], [spelling, "张三丰", "总公司/销售部/华东区"]])
    summary = run_employees(path)
    assert (summary["created"], summary["updated"]) == (0, 1)
    assert Employee.objects.get(pk=org["east_rep"].pk).name == "张三丰"


def test_full_width_numbers_are_stored_in_ascii(org, tmp_path):
    run_employees(write_csv(tmp_path / "r.csv", [["工号", "姓名", "部门"], ["ＱＧ０１００１", "钱八", "总公司"]]))
    assert Employee.objects.filter(employee_no="QG01001").count() == 1
    summary = run_employees(write_csv(tmp_path / "r.csv", [["工号", "姓名", "部门"], ["QG01001", "钱八", "总公司"]]))
    assert summary["no_change"] is True


def test_an_excel_number_next_to_its_zero_padded_text_is_one_person(org, tmp_path):
    path = xlsx(tmp_path, rows=[["工号", "姓名", "部门"], ["00123", "钱八", "总公司"], [123, "钱八", "总公司"]])
    with pytest.raises(ImportValidationError, match="第3行, 工号: 工号 123 与第2行的 00123 只差前导零"):
        run_employees(path)
    run_employees(xlsx(tmp_path, rows=[["工号", "姓名", "部门"], ["00123", "钱八", "总公司"]]))
    assert Employee.objects.get(name="钱八").employee_no == "00123"  # leading zeros kept
    with pytest.raises(ImportValidationError, match="第2行, 工号: 工号 123 与已有员工的工号 00123 只差前导零"):
        run_employees(xlsx(tmp_path, rows=[["工号", "姓名", "部门"], [123, "钱八", "总公司"]]))
    assert Employee.objects.filter(name="钱八").count() == 1


def test_a_group_rosters_inviter_is_found_by_any_spelling_of_the_number(org, tmp_path):
    from .import_helpers import run_roster

    path = write_csv(
        tmp_path / "g.csv", [["群昵称", "微信号", "邀请人"], ["华东区-张三", "wx_zhangsan", "Ｅ０１００\u200b"]]
    )
    preview = run_roster(path, group=org["sales_group"], dry_run=True)
    assert preview["summary"]["rows"] == 1


def test_the_admin_form_normalises_the_number_before_the_unique_check(hr_client, org):
    url = reverse("admin:groups_employee_add")
    data = {"employee_no": "Ｅ０１０１\u200b", "name": "重复", "department": org["east"].pk, "status": "active"}
    page = hr_client.post(url, data).content.decode()
    assert "已存在" in page
    data["employee_no"] = "ＱＧ０１００１\u200b"
    assert hr_client.post(url, data).status_code == 302
    assert Employee.objects.filter(employee_no="QG01001", name="重复").exists()


def test_the_migration_normalises_stored_numbers_and_leaves_collisions_to_hr(org, capsys):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("groups.migrations.0004_normalise_employee_numbers")
    Employee.objects.filter(pk=org["east_rep"].pk).update(employee_no="Ｅ０１０１\u200b")  # stored before the fix
    Employee.objects.filter(pk=org["tech_dev"].pk).update(employee_no="E0100\u200b")  # E0100 is 李销售's
    conflicts = migration.normalise_employee_numbers(apps, None)
    assert Employee.objects.get(pk=org["east_rep"].pk).employee_no == "E0101"
    assert Employee.objects.get(pk=org["tech_dev"].pk).employee_no == "E0100\u200b"
    assert [c[0] for c in conflicts] == [org["tech_dev"].pk]

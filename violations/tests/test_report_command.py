"""python manage.py export_violations: files written whole, scoping by --department/--user, clear errors."""

from __future__ import annotations

import openpyxl
import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError

from .report_data import csv_rows, make_october


@pytest.fixture
def october(hr, org, sanction):
    return make_october(hr, org, sanction)


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("export_violations", *args, stdout=out)
    return out.getvalue()


def test_csv_for_a_department_subtree(october, tmp_path):
    target = tmp_path / "oct.csv"
    output = run("--month", "2026-10", "--department", "总公司/销售部", "--format", "csv", "--output", str(target))
    assert "3 rows" in output
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert {r[1] for r in csv_rows(content)[1:]} == {"E0101", "E0100"}
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS)
    assert entry.actor is None and entry.additional_data["channel"] == "command" and entry.additional_data["rows"] == 3
    assert not list(tmp_path.glob(".export-*"))  # no temp file left behind


def test_gbk_and_date_range(october, tmp_path):
    target = tmp_path / "r.csv"
    run("--from", "2026-10-01", "--to", "2026-10-10", "--format", "csv", "--encoding", "gbk", "--output", str(target))
    rows = csv_rows(target.read_bytes(), "gbk")
    assert [r[0] for r in rows[1:]] == ["2026-10-05", "2026-10-10"]


def test_xlsx_as_a_user_sees_only_their_view(october, head_tech, tmp_path):
    target = tmp_path / "r.xlsx"
    run("--month", "2026-10", "--format", "xlsx", "--user", "head_tech", "--output", str(target))
    book = openpyxl.load_workbook(target)
    assert {r[1] for r in book["违规明细"].iter_rows(min_row=2, values_only=True)} == {"E0201"}
    assert LogEntry.objects.get(action=LogEntry.Action.ACCESS).actor == head_tech


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13", "--format", "csv"], "--month"),
        (["--month", "2026-10", "--format", "pdf"], "--format"),
        (["--month", "2026-10", "--format", "xlsx", "--encoding", "gbk"], "--encoding"),
        (["--month", "2026-10", "--format", "csv", "--encoding", "latin-1"], "--encoding"),
        (["--format", "csv"], "--month"),
        (["--month", "2026-10", "--from", "2026-10-01", "--to", "2026-10-02", "--format", "csv"], "--month"),
        (["--from", "2026-10-09", "--to", "2026-10-01", "--format", "csv"], "--to"),
        (["--from", "2026/10/01", "--to", "2026-10-09", "--format", "csv"], "--from"),
        (["--month", "2026-10", "--format", "csv", "--department", "总公司/不存在部"], "--department"),
        (["--month", "2026-10", "--format", "csv", "--user", "nobody"], "--user"),
        (
            ["--month", "2026-10", "--format", "csv", "--user", "head_tech", "--department", "总公司/销售部"],
            "--department",
        ),
    ],
)
def test_errors_name_the_parameter(october, head_tech, tmp_path, args, message):
    target = tmp_path / "r.out"
    with pytest.raises(CommandError) as caught:
        run(*args, "--output", str(target))
    assert str(caught.value).startswith(message)
    assert not target.exists() and not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_output_directory_must_exist(october, tmp_path):
    with pytest.raises(CommandError, match=r"^--output"):
        run("--month", "2026-10", "--format", "csv", "--output", str(tmp_path / "missing" / "r.csv"))

"""python manage.py import_roster: summaries, --dry-run, exit codes."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from groups.models import Employee, ImportJob, Membership

from .import_helpers import EMP_HEADER, write_csv

pytestmark = pytest.mark.django_db


def test_employees_import_prints_summary_and_reimport_says_no_change(org, tmp_path, capsys):
    path = write_csv(tmp_path / "r.csv", [EMP_HEADER, ["N1", "钱八", "总公司/市场部", "", "在职", "", "", ""]], "gbk")
    call_command("import_roster", "employees", str(path), "--create-departments")
    assert '"created": 1' in capsys.readouterr().out
    call_command("import_roster", "employees", str(path), "--create-departments")
    assert "无变化" in capsys.readouterr().out
    assert ImportJob.objects.filter(status="done").count() == 2


def test_dry_run_prints_preview_and_writes_nothing(org, tmp_path, capsys):
    path = write_csv(tmp_path / "r.csv", [EMP_HEADER, ["N1", "钱八", "总公司/市场部", "", "在职", "", "", ""]])
    call_command("import_roster", "employees", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "预览" in out and "钱八" in out
    assert not Employee.objects.filter(employee_no="N1").exists()


def test_invalid_file_exits_non_zero_with_every_error(org, tmp_path):
    path = write_csv(tmp_path / "r.csv", [EMP_HEADER, ["N1", "", "总公司", "", "休假", "", "", ""]])
    with pytest.raises(CommandError) as info:
        call_command("import_roster", "employees", str(path))
    assert "第2行, 姓名: 不能为空" in str(info.value) and "第2行, 状态" in str(info.value)
    assert not Employee.objects.filter(employee_no="N1").exists()


def test_group_import_with_group_option(org, tmp_path, capsys):
    path = write_csv(tmp_path / "r.csv", [["群昵称", "微信号"], ["小李", "wx_li"]])
    call_command("import_roster", "group", str(path), "--group", "销售部工作群")
    assert '"joined": 1' in capsys.readouterr().out
    assert Membership.objects.get().employee == org["sales_head"]


def test_unknown_group_option_and_missing_file_fail(org, tmp_path):
    path = write_csv(tmp_path / "r.csv", [["群昵称"], ["小李"]])
    with pytest.raises(CommandError, match="找不到唯一"):
        call_command("import_roster", "group", str(path), "--group", "没有这个群")
    with pytest.raises(CommandError, match="找不到文件"):
        call_command("import_roster", "employees", str(tmp_path / "nope.csv"))


def test_exit_code_from_the_command_line(org, tmp_path, capsys):
    from groups.management.commands.import_roster import Command

    path = write_csv(tmp_path / "r.csv", [["工号"], ["N1"]])
    with pytest.raises(SystemExit) as info:
        Command().run_from_argv(["manage.py", "import_roster", "employees", str(path), "--dry-run"])
    assert info.value.code == 1
    assert "第1行, 姓名: 缺少必需的列" in capsys.readouterr().err

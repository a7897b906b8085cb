"""python manage.py export_violations --month 2026-10 [--department PATH] --format csv|xlsx --output FILE

Writes the violation report for a month (or --from/--to dates) of the whole company or a department
subtree. Runs as the operator (whole company) unless --user scopes it to that person's view. The
file appears only when complete (written beside it, then renamed); the export is audited.
"""

from __future__ import annotations

import datetime
import functools
import os
import tempfile

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from groups.models import Department
from violations import reports
from violations.models import PerformanceDeduction, Violation
from violations.reports.jobs import log_export


class Command(BaseCommand):
    help = "Export the violation report (CSV or XLSX) for a month or a date range."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--month", help="YYYY-MM, e.g. 2026-10")
        parser.add_argument("--from", dest="start", help="first day YYYY-MM-DD (with --to, instead of --month)")
        parser.add_argument("--to", dest="end", help="last day YYYY-MM-DD (inclusive)")
        parser.add_argument("--department", help="department path, e.g. 总公司/销售部 (its whole subtree)")
        parser.add_argument("--format", dest="file_format", required=True, help="csv or xlsx")
        parser.add_argument("--encoding", help="CSV only: utf-8-sig (default) or gbk (unencodable characters → ?)")
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument("--user", help="export as this username (only what that person may see)")

    def handle(self, *args, **options) -> None:
        file_format = _check_format(options["file_format"], options["encoding"])
        output = _check_output(options["output"])
        params = _params(options)
        user, base = _scope(options["user"])
        department = _department(options["department"], user)
        params = reports.ReportParams(params.start, params.end, department.pk if department else None)
        qs = reports.report_queryset(base, params, department)
        deductions = PerformanceDeduction.objects.visible_to(user) if user else PerformanceDeduction.objects.all()
        rows = _write(output, qs, file_format, options["encoding"] or "utf-8-sig", deductions)
        description = params.describe(department)
        filters = params.to_json()
        log_export(
            user, description=description, file_format=file_format, filters=filters, rows=rows, channel="command"
        )
        self.stdout.write(f"{rows} rows → {output} ({description})")


def _check_format(file_format: str, encoding: str | None) -> str:
    if file_format not in ("csv", "xlsx"):
        raise CommandError(f"--format: expected csv or xlsx, got {file_format!r}")
    if encoding is not None:
        if file_format != "csv":
            raise CommandError("--encoding: applies to --format csv only")
        if encoding not in reports.ENCODINGS:
            raise CommandError(f"--encoding: expected utf-8-sig or gbk, got {encoding!r}")
    return file_format


def _check_output(output: str) -> str:
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise CommandError(f"--output: directory {folder} does not exist")
    if os.path.isdir(output):
        raise CommandError(f"--output: {output} is a directory")
    return output


def _params(options) -> reports.ReportParams:
    month, start, end = options["month"], options["start"], options["end"]
    if month and (start or end):
        raise CommandError("--month: give either --month or --from/--to, not both")
    try:
        if month:
            return reports.ReportParams(*reports.parse_month(month))
        if not (start and end):
            raise CommandError("--month: required (or both --from and --to)")
        return reports.ReportParams(_day("--from", start), _day("--to", end))
    except reports.ReportError as exc:
        name = {"month": "--month", "end": "--to"}.get(exc.field, f"--{exc.field}")
        raise CommandError(f"{name}: {exc.message}") from exc


def _day(name: str, value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{name}: expected YYYY-MM-DD, got {value!r}") from None


def _scope(username: str | None):
    if not username:
        return None, Violation.objects.all()  # the operator at the shell: the whole company
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"--user: no active user {username!r}")
    return user, Violation.objects.visible_to(user)


def _department(path: str | None, user) -> Department | None:
    if not path:
        return None
    departments = Department.objects.visible_to(user) if user is not None else Department.objects.all()
    department = departments.filter(name_path=path.strip().strip("/")).first()
    if department is None:
        raise CommandError(f"--department: no department {path!r} (use the full path, e.g. 总公司/销售部)")
    return department


def _write(output: str, qs, file_format: str, encoding: str, deductions) -> int:
    folder = os.path.dirname(os.path.abspath(output))
    handle, temp = tempfile.mkstemp(prefix=".export-", suffix=f".{file_format}", dir=folder)
    os.close(handle)
    try:
        if file_format == "xlsx":
            write = functools.partial(reports.write_xlsx, deductions=deductions)
        else:
            write = functools.partial(reports.write_csv, encoding=encoding)
        rows = write(temp, qs)
        os.replace(temp, output)
    except BaseException:
        os.unlink(temp)
        raise
    return rows

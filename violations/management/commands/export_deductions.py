"""manage.py export_deductions --month 2026-10 --format csv|xlsx [--encoding gbk] --output FILE [--actor USERNAME]

Writes the month's performance deductions for payroll (violations.deductions.export). Runs as the
operator (whole company) unless --actor scopes it to that person's view (HR/audit all, a department
head their subtree; anyone else is refused). The file appears only when complete; the export is audited.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.choices import Channel
from violations.deductions import export


class Command(BaseCommand):
    help = "Export a month's performance deductions (CSV or XLSX) for payroll."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-10")
        parser.add_argument("--format", dest="file_format", required=True, help="csv or xlsx")
        parser.add_argument("--encoding", help="CSV only: utf-8-sig (default) or gbk (unencodable characters → ?)")
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument("--actor", help="export as this username (only what that person may see)")

    def handle(self, *args, **options) -> None:
        if options["encoding"] and options["file_format"] != "csv":
            raise CommandError("--encoding: applies to --format csv only")
        output = _check_output(options["output"])
        user = _actor(options["actor"])
        try:
            if user is not None:
                export.require_export_access(user)
            file_format, encoding = export.check_format(options["file_format"], options["encoding"])
            period = export.export_month(options["month"])
        except PermissionDenied as exc:
            raise CommandError(f"--actor: {exc}") from exc
        except ValidationError as exc:
            [(field, messages)] = list(exc.message_dict.items())[:1]
            raise CommandError(f"--{field}: {' '.join(messages)}") from exc
        rows = export.write_file(
            output, period, user, file_format=file_format, encoding=encoding, channel=Channel.SYSTEM
        )
        self.stdout.write(f"{rows} rows → {output} ({period}, {export.status_text(period)})")


def _check_output(output: str) -> str:
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise CommandError(f"--output: directory {folder} does not exist")
    if os.path.isdir(output):
        raise CommandError(f"--output: {output} is a directory")
    return output


def _actor(username: str | None):
    if not username:
        return None  # the operator at the shell: the whole company
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"--actor: no active user {username!r}")
    return user

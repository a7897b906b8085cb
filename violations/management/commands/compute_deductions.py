"""``python manage.py compute_deductions --month 2026-10 [--close]``: a thin wrapper around the services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.choices import Channel
from portal.months import previous_month
from violations.deductions import close_month, compute_month


class Command(BaseCommand):
    help = "Compute (or recompute) a month's performance-score deductions; --close also freezes the month."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--month", help="YYYY-MM; default: the month before the current one")
        parser.add_argument("--close", action="store_true", help="close (freeze) the month after computing it")

    def handle(self, *args, month: str | None, close: bool, **options) -> None:
        month = month or f"{previous_month():%Y-%m}"
        service = close_month if close else compute_month
        try:
            result = service(month, acting_user=None, channel=Channel.SYSTEM)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"{result.month}: {result.employees} employees, {result.sanctions} sanctions, "
            f"{result.rows_written} rows written, {result.rows_deleted} deleted, "
            f"{result.adjustments} adjustments" + (", closed" if result.closed else "")
        )

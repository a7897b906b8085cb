"""python manage.py detect_chat [--since 2026-11-01] [--until 2026-12-01] [--group ID ...]

Runs every chat detector over the messages sent in [since, until) (dates or ISO times, China's time
when no offset is given) of the given groups (all when none) and turns new hits into suspected
violations (待核实). Idempotent: a rerun adds nothing already found.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from violations.services.detection import detect_chat


def _moment(name: str, value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--{name}: 无法识别的日期或时间 {value!r}(例如 2026-11-01 或 2026-11-01T08:00)")
        moment = datetime.datetime.combine(day, datetime.time.min)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Detect suspected rule breaches in the imported chat messages (suspicions 待核实)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", help="first moment, YYYY-MM-DD or ISO time (default: the beginning)")
        parser.add_argument("--until", help="end, exclusive (default: now)")
        parser.add_argument("--group", type=int, action="append", help="chat group id (repeatable; default all)")

    def handle(self, *args, **options) -> None:
        since, until = _moment("since", options["since"]), _moment("until", options["until"])
        try:
            run = detect_chat(since=since, until=until, group_ids=options["group"], trigger="command")
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        for name, counts in sorted(run.counts.items()):
            self.stdout.write(
                f"{name}: hits={counts['hits']} new={counts['new']} suspected={counts['suspected']} "
                f"unmatched={counts['unmatched']} skipped={counts['skipped']}"
            )
        self.stdout.write(f"run #{run.pk}: {run.status}")
        if run.errors:
            raise CommandError("; ".join(run.errors))

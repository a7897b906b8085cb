"""Anonymise departed employees past the retention period (PIPL). A thin wrapper around the service."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from groups.privacy import anonymize_departed, due_for_anonymization


class Command(BaseCommand):
    help = "匿名化离职超过保留期限的员工个人信息(默认 QUNGUI_RETENTION_DAYS 天)。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help=f"保留天数,默认 {settings.QUNGUI_RETENTION_DAYS}",
        )
        parser.add_argument("--dry-run", action="store_true", help="只统计,不修改")
        parser.add_argument("--actor", default="", help="记入审计日志的操作人用户名")

    def handle(self, *args, older_than_days, dry_run, actor, **options):
        if older_than_days is not None and older_than_days < 0:
            raise CommandError(f"--older-than-days must be 0 or more, got {older_than_days}")
        if dry_run:
            count = due_for_anonymization(older_than_days=older_than_days).count()
            self.stdout.write(f"would anonymise {count} departed employee(s)")
            return
        acting_user = self._actor(actor)
        result = anonymize_departed(older_than_days=older_than_days, acting_user=acting_user)
        self.stdout.write(
            f"anonymised {result.employees} employee(s), {result.memberships} membership(s); "
            f"redacted {result.audit_entries_redacted} audit entr(y/ies); cutoff {result.cutoff.isoformat()}"
        )
        if result.departed_without_date:
            self.stderr.write(f"{result.departed_without_date} departed employee(s) without 离职日期 were left as is")

    @staticmethod
    def _actor(username: str):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"--actor: no user named {username!r}") from exc

"""python manage.py reconcile_groups — reconcile every group's roster now and print a summary."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from groups.choices import FindingKind
from groups.reconcile import escalate_overdue, reconcile_all
from groups.tasks import RECONCILE_LOCK
from portal.locks import job_lock


class Command(BaseCommand):
    help = "Reconcile chat-group rosters with the HR roster (花名册核查) and print what was found."

    def add_arguments(self, parser):
        parser.add_argument("--escalate", action="store_true", help="also escalate overdue departed-member findings")
        parser.add_argument(
            "--full", action="store_true", help="rescan every group, not only those changed since the last run"
        )

    def handle(self, *args, **options):
        with job_lock(RECONCILE_LOCK) as held:  # a killed run's lock dies with it
            if not held:
                raise CommandError(_("另一次核查正在运行,请稍后再试。"))
            summary = reconcile_all(full=options["full"])  # else incremental: the changed groups
            escalated = escalate_overdue() if options["escalate"] else []
        self.stdout.write(
            _("%(kind)-24s %(seen)8s %(new)8s %(resolved)8s")
            % {"kind": _("类型"), "seen": _("当前"), "new": _("新增"), "resolved": _("已解决")}
        )
        for kind in FindingKind:
            self.stdout.write(
                f"{kind.label:<24} {summary.seen[kind]:>8} {summary.created[kind]:>8} {summary.resolved[kind]:>8}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                _("完成:仍未处理 %(open)d,已豁免 %(waived)d,升级通知 %(escalated)d")
                % {"open": summary.still_open, "waived": summary.still_waived, "escalated": len(escalated)}
            )
        )

"""What the organisation's jobs tell people: the daily findings digest and overdue-removal notices.

Rows are built with ``portal.notifications.logs_for`` and recorded with ``record`` in the caller's
transaction; delivery (email, WeCom robot) is the portal's, retried in a Celery task.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import Count, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import NotificationLog
from portal.notifications import logs_for, record

from .choices import FindingKind
from .models import ChatGroup, Department, Employee, RosterFinding
from .tree import DeptTree


def _findings_lines(counts: dict[str, int]) -> str:
    return "\n".join(f"- {FindingKind(kind).label}: {n}" for kind, n in sorted(counts.items()))


@transaction.atomic
def send_findings_digest() -> int:
    """Each group's active owner and admins get the count of its open findings by kind."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for group_id, kind, n in (
        RosterFinding.objects.open().order_by().values_list("group_id", "kind").annotate(n=Count("pk"))
    ):
        counts[group_id][kind] = n
    groups = (
        ChatGroup.objects.filter(pk__in=list(counts))
        .select_related("owner")
        .prefetch_related(Prefetch("admins", queryset=Employee.objects.active()))
    )
    logs = []
    for group in groups:
        people = {p.pk: p for p in [group.owner, *group.admins.all()] if p is not None and p.is_active}
        subject = _("【群规】%(group)s 待处理的核查结果") % {"group": group.name}
        body = _findings_lines(counts[group.pk])
        logs += logs_for(list(people.values()), subject, body, group.wecom_webhook_url or None)
    return len(record(logs))


def notify_overdue_findings(finding_ids: list[int]) -> int:
    """Department heads hear of departed members still in their groups past the deadline."""
    if not finding_ids:
        return 0
    tree = DeptTree()
    findings = RosterFinding.objects.filter(pk__in=finding_ids).select_related("group", "employee", "membership")
    by_dept: dict[int, list] = defaultdict(list)
    for finding in findings:
        head = tree.head_for(finding.group.department_id)
        if head is not None:
            by_dept[head.pk].append(finding)
    return len(record(_overdue_logs(by_dept)))


def _overdue_logs(by_dept: dict[int, list]) -> list[NotificationLog]:
    logs = []
    for dept in Department.objects.filter(pk__in=list(by_dept)).select_related("head"):
        lines = [
            "- "
            + _("%(group)s:%(person)s(%(since)s 起)")
            % {
                "group": f.group.name,
                "person": f.employee.name if f.employee else f.membership.nickname,
                "since": f"{timezone.localtime(f.first_seen_at):%Y-%m-%d %H:%M}",
            }
            for f in by_dept[dept.pk]
        ]
        subject = _("【群规】离职人员逾期未清退:%(n)d 人") % {"n": len(lines)}
        logs += logs_for([dept.head], subject, "\n".join(lines), dept.wecom_webhook_url or None)
    return logs

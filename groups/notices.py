"""What the organisation's jobs tell people: the daily findings digest, new findings for each group's
owner and admins (a group with neither: its department head, else HR), and overdue-removal notices
for department heads.

Rows are built with ``portal.notifications.logs_for`` and recorded with ``record`` in the caller's
transaction; delivery (email, WeCom application message, WeCom robot) is the portal's, retried in a
Celery task. Each digest names its event (``event=``), so a rerun records nothing twice.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from django.db import transaction
from django.db.models import Count, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import NotificationLog
from portal.notifications import logs_for, logs_for_accounts, record

from .choices import FindingKind
from .lifecycle_checks import explain
from .models import ChatGroup, Department, Employee, ReconcileRun, RosterFinding
from .tree import DeptTree


def _findings_lines(counts: dict[str, int]) -> str:
    return "\n".join(f"- {FindingKind(kind).label}: {n}" for kind, n in sorted(counts.items()))


@transaction.atomic
def send_findings_digest() -> int:
    """Each group's active owner and admins (or its stand-ins, ``_stand_ins``) get the count of its open
    findings by kind."""
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
    groups = list(groups)
    stand_ins, _heads = _stand_ins([group for group in groups if not _staff(group)])
    logs = []
    for group in groups:
        people = _staff(group) or stand_ins[group.pk]
        subject = _("【群规】%(group)s 待处理的核查结果") % {"group": group.name}
        body = _findings_lines(counts[group.pk])
        event = f"findings-digest:{group.pk}:{timezone.localdate():%Y%m%d}"  # once a day
        logs += logs_for(people, subject, body, group.wecom_webhook_url or None, event=event)
    return len(record(logs))


NEW_FINDINGS_LINES = 20  # per message; the rest is counted


def _ids_digest(ids) -> str:
    return hashlib.sha1(",".join(map(str, sorted(ids))).encode(), usedforsecurity=False).hexdigest()[:16]


def _finding_line(kind: str, name: str | None, nickname: str | None, detail: str) -> str:
    line = f"- {FindingKind(kind).label}"
    who = name or nickname
    if who:
        line += f": {who}"
    detail = explain(kind, detail) or detail
    if detail and detail != who:
        line += _("(%(detail)s)") % {"detail": detail}
    return line


def notify_new_findings(run: ReconcileRun) -> int:
    """Each group's active owner and admins hear of the findings this run opened in their group.

    Called by the reconciliation in its own transaction, after the run is recorded: a finding is new
    in exactly one run, and the digest's event names the group and its findings, so each finding is
    told once.
    """
    rows = (
        RosterFinding.objects.open()
        .filter(first_seen_at=run.finished_at)
        .order_by("group_id", "kind", "pk")
        .values_list("pk", "group_id", "kind", "employee__name", "membership__nickname", "detail")
    )
    by_group: dict[int, list] = defaultdict(list)
    for row in rows:
        by_group[row[1]].append(row)
    if not by_group:
        return 0
    groups = list(
        ChatGroup.objects.filter(pk__in=list(by_group))
        .select_related("owner")
        .prefetch_related(Prefetch("admins", queryset=Employee.objects.active()))
    )
    staff = {group.pk: _staff(group) for group in groups}
    stand_ins, heads_told = _stand_ins([group for group in groups if not staff[group.pk]])
    hr_accounts = _hr_accounts() if len(heads_told) < sum(1 for g in groups if not staff[g.pk]) else []
    logs = []
    for group in groups:
        people = staff[group.pk] or stand_ins.get(group.pk, [])
        found = by_group[group.pk]
        lines = [_finding_line(kind, name, nick, detail) for _pk, _g, kind, name, nick, detail in found]
        if len(lines) > NEW_FINDINGS_LINES:
            more = len(lines) - NEW_FINDINGS_LINES
            lines = [*lines[:NEW_FINDINGS_LINES], _("……另有 %(n)d 条,请登录门户查看") % {"n": more}]
        if not staff[group.pk]:
            lines.insert(0, _("该群没有在职的群主或群管理员,请处理以下结果并指定新群主:"))
        subject = _("【群规】%(group)s 新发现 %(n)d 条核查结果") % {"group": group.name, "n": len(found)}
        event = f"findings-new:{group.pk}:{_ids_digest(f[0] for f in found)}"
        logs += logs_for(people, subject, "\n".join(lines), None, event=event)
        if not staff[group.pk] and group.pk not in heads_told:
            logs += logs_for_accounts(hr_accounts, subject, "\n".join(lines), event=event)
    return len(record(logs)) + _notify_hr_of_barred_rejoins(rows)


def _staff(group: ChatGroup) -> list[Employee]:
    """The group's active owner and admins (admins prefetched active), each once."""
    people = {p.pk: p for p in [group.owner, *group.admins.all()] if p is not None and p.is_active}
    return list(people.values())


def _active_hr() -> list[Employee]:
    from django.conf import settings

    hr = Employee.objects.active().filter(user__is_active=True, user__groups__name=settings.ROLE_HR_ADMIN)
    return list(hr.distinct())


def _hr_accounts() -> list:
    """Active HR admins' logins that have no employee record (told by the account's email)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True, groups__name=settings.ROLE_HR_ADMIN, employee__isnull=True)
    return list(users.exclude(email="").distinct())


def _stand_ins(orphans: list[ChatGroup]) -> tuple[dict[int, list[Employee]], set[int]]:
    """Who is told instead when a group has no active owner or admin (its owner departed, say): the
    head of its department or the nearest ancestor's, else HR (HR admins without an employee record
    by their account's email, ``_hr_accounts``). Nobody would act on the findings otherwise (the
    month simulation, bench/bench_month.py, found such groups' departures untold). Returns the
    stand-ins by group and the groups whose stand-in is a head."""
    if not orphans:
        return {}, set()
    tree = DeptTree()
    head_of = {}
    for group in orphans:
        dept = tree.head_for(group.department_id) if group.department_id else None
        if dept is not None:
            head_of[group.pk] = dept.head_id
    heads = Employee.objects.in_bulk(set(head_of.values()))
    hr = _active_hr() if len(head_of) < len(orphans) else []
    return {group.pk: [heads[head_of[group.pk]]] if group.pk in head_of else hr for group in orphans}, set(head_of)


def _notify_hr_of_barred_rejoins(rows) -> int:
    """HR (active HR admins with an employee record) hears of rejoins while barred: the bar was HR's
    sanction. ``rows`` are ``notify_new_findings``' new findings; once per set of findings."""
    barred = [row for row in rows if row[2] == FindingKind.REJOINED_BARRED]
    if not barred:
        return 0
    hr = _active_hr()
    names = dict(ChatGroup.objects.filter(pk__in={row[1] for row in barred}).values_list("pk", "name"))
    lines = [
        f"{names.get(g, '')} {_finding_line(kind, name, nick, detail)[2:]}"
        for _pk, g, kind, name, nick, detail in barred
    ]
    subject = _("【群规】禁入期内重新入群:%(n)d 人") % {"n": len(barred)}
    event = f"rejoined-barred-hr:{_ids_digest(row[0] for row in barred)}"
    return len(record(logs_for(list(hr), subject, "\n".join(lines), None, event=event)))


def notify_overdue_findings(finding_ids: list[int]) -> int:
    """Department heads hear of departed members still in their groups past the deadline."""
    if not finding_ids:
        return 0
    tree = DeptTree()
    findings = (
        RosterFinding.objects.filter(pk__in=finding_ids)
        .select_related("group", "employee", "membership")
        .order_by("pk")
    )
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
        event = f"departed-overdue:{dept.pk}:{_ids_digest(f.pk for f in by_dept[dept.pk])}"
        logs += logs_for([dept.head], subject, "\n".join(lines), dept.wecom_webhook_url or None, event=event)
    return logs

"""What the discipline side tells people, each once per event (``portal.notifications``):

- the employee, when HR gives notice of the sanctions (``mark_notified``): rule, sanctions, appeal deadline;
- the employee, of the decision on their appeal (``decide_appeal``);
- the employee, two working days before the appeal deadline (daily beat, ``send_deadline_reminders``);
- the department head, of the employees one step from the next rung of the ladder: one digest per
  head and day listing them all (daily beat, ``notify_at_risk``).

Rows are written in the caller's transaction; their ``event_key`` makes a rerun write nothing.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import Employee
from groups.tree import DeptTree
from portal.notifications import logs_for, record, send_notification

from . import escalation
from .choices import AppealStatus, SanctionKind, ViolationStatus
from .models import Appeal, CompanySettings, Sanction, Violation
from .workdays import add_workdays, is_workday

REMINDER_WORKDAYS = 2


def _mine() -> str:
    return reverse("violations:mine")


def _sanction_text(sanction: Sanction) -> str:
    text = str(SanctionKind(sanction.kind).label)
    if sanction.amount:
        text += _("(%(amount)s 元)") % {"amount": sanction.amount}
    if sanction.days:
        text += _("(%(days)s 天)") % {"days": sanction.days}
    if sanction.points:
        text += _("(扣绩效 %(points)s 分)") % {"points": sanction.points}
    return text


def notify_sanctioned(violation: Violation) -> int:
    """The employee hears of the sanctions HR gave notice of: rule, sanctions, appeal deadline."""
    violation = Violation.objects.select_related("employee", "rule", "group").get(pk=violation.pk)
    sanctions = violation.sanctions.filter(withdrawn_at__isnull=True).order_by("pk")
    lines = [
        _("条款:%(code)s %(title)s") % {"code": violation.rule.code, "title": violation.rule.title},
        _("时间:%(at)s") % {"at": f"{timezone.localtime(violation.occurred_at):%Y-%m-%d %H:%M}"},
        _("处分:%(what)s") % {"what": _("、").join(_sanction_text(s) for s in sanctions)},
    ]
    if violation.group_id:
        lines.insert(1, _("群:%(group)s") % {"group": violation.group.name})
    if violation.appeal_deadline:
        lines.append(_("如有异议,请在 %(d)s 前提出申诉。") % {"d": f"{violation.appeal_deadline:%Y-%m-%d}"})
    subject = _("【群规】处分通知:%(code)s %(title)s") % {"code": violation.rule.code, "title": violation.rule.title}
    return len(
        send_notification(
            violation.employee, subject, "\n".join(lines), event=f"sanction-confirmed:{violation.pk}", link=_mine()
        )
    )


def notify_appeal_decided(appeal: Appeal) -> int:
    """The employee hears of the decision on their appeal, with HR's reason."""
    appeal = Appeal.objects.select_related("violation__employee", "violation__rule").get(pk=appeal.pk)
    violation = appeal.violation
    if appeal.status == AppealStatus.UPHELD:
        outcome = _("维持原处分")
    elif appeal.status == AppealStatus.OVERTURNED:
        outcome = _("撤销处分")
    else:
        return 0
    subject = _("【群规】申诉结果:%(outcome)s") % {"outcome": outcome}
    body = "\n".join(
        [
            _("条款:%(code)s %(title)s") % {"code": violation.rule.code, "title": violation.rule.title},
            _("裁决:%(outcome)s") % {"outcome": outcome},
            _("理由:%(reason)s") % {"reason": appeal.decision_reason},
        ]
    )
    event = f"appeal-decided:{appeal.pk}"
    return len(send_notification(violation.employee, subject, body, event=event, link=_mine()))


def send_deadline_reminders(today: datetime.date | None = None) -> int:
    """On working days: remind employees whose appeal deadline is at most two working days away.

    Each violation is reminded once (the first working day its deadline is that close), so a day the
    job did not run is caught up the next working day; violations already appealed are left alone.
    """
    today = today or timezone.localdate()
    if not is_workday(today):
        return 0
    horizon = add_workdays(today, REMINDER_WORKDAYS)
    due = (
        Violation.objects.filter(
            status=ViolationStatus.SANCTIONED,
            notified_at__isnull=False,
            appeal_deadline__gte=today,
            appeal_deadline__lte=horizon,
            appeal__isnull=True,
            employee__status="active",
        )
        .select_related("employee", "rule")
        .order_by("pk")
    )
    sent = 0
    for violation in due:
        subject = _("【群规】申诉期即将截止:%(d)s") % {"d": f"{violation.appeal_deadline:%Y-%m-%d}"}
        body = _("您对 %(code)s %(title)s 的处分申诉期将于 %(d)s 截止;如有异议,请在截止前提出申诉。") % {
            "code": violation.rule.code,
            "title": violation.rule.title,
            "d": f"{violation.appeal_deadline:%Y-%m-%d}",
        }
        event = f"appeal-deadline:{violation.pk}:{violation.appeal_deadline:%Y%m%d}"
        sent += len(send_notification(violation.employee, subject, body, event=event, link=_mine()))
    return sent


# --- at-risk employees -------------------------------------------------------------------------


def at_risk_candidates(now: datetime.datetime, settings: CompanySettings) -> list[int]:
    """Active employees with an active warning or demerit inside the ladder window (the only ones
    that one more warning or demerit can push up a rung)."""
    from portal.months import months_before

    return list(
        Sanction.objects.active()
        .filter(
            kind__in=[SanctionKind.WARNING, SanctionKind.DEMERIT],
            employee__status="active",
            violation__occurred_at__gt=months_before(now, settings.window_months),
        )
        .order_by("employee_id")
        .values_list("employee_id", flat=True)
        .distinct()
    )


AT_RISK_LINES = 30  # per digest; the rest is counted and the dashboard lists them all


def notify_at_risk(now: datetime.datetime | None = None) -> int:
    """Each department head gets one digest a day listing all their at-risk employees (one step from
    the next rung), on each channel they have; a rerun the same day records nothing new."""
    now = now or timezone.now()
    settings = CompanySettings.load()
    ids = at_risk_candidates(now, settings)
    if not ids:
        return 0
    tree = DeptTree()
    employees = Employee.objects.filter(pk__in=ids).select_related("department").in_bulk()
    by_head: dict[int, list[tuple[Employee, list[escalation.Step]]]] = defaultdict(list)
    for employee_id in ids:
        employee = employees[employee_id]
        rungs = escalation.next_rungs(escalation.load_input(employee_id), settings, now)
        dept = tree.head_for(employee.department_id, exclude=employee_id) if rungs else None
        if dept is not None:
            by_head[dept.head_id].append((employee, rungs))
    heads = Employee.objects.in_bulk(list(by_head))
    day = timezone.localdate(now)
    logs = []
    for head_id, people in sorted(by_head.items()):
        subject = _("【群规】%(n)d 名员工临近升级处分") % {"n": len(people)}
        event = f"at-risk-digest:{head_id}:{day:%Y%m%d}"  # once per head and day
        body = _at_risk_body(people, settings)
        logs += logs_for([heads[head_id]], subject, body, None, event=event, link=reverse("dashboard"))
    return len(record(logs))


def _at_risk_body(people: list[tuple[Employee, list[escalation.Step]]], settings: CompanySettings) -> str:
    people = sorted(people, key=lambda item: (item[0].department.name, item[0].employee_no))
    lines = [
        _("- %(name)s(工号 %(no)s,%(dept)s)距下一级处分只差一次:%(next)s")
        % {
            "name": employee.name,
            "no": employee.employee_no,
            "dept": employee.department.name,
            "next": _(";").join(escalation.describe(rung, settings) for rung in rungs),
        }
        for employee, rungs in people
    ]
    if len(lines) > AT_RISK_LINES:
        more = len(lines) - AT_RISK_LINES
        lines = [*lines[:AT_RISK_LINES], _("……另有 %(n)d 人,请登录门户查看") % {"n": more}]
    return "\n".join(lines)

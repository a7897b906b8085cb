"""Appeals: filed by the employee within the window of working days, decided by HR."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from portal.choices import Channel
from portal.scoping import require_hr, scope_for

from .. import escalation
from ..choices import AppealStatus, SanctionKind, ViolationStatus
from ..evidence import check_evidence_files
from ..models import Appeal, CompanySettings, PerformanceMonth, Sanction, Violation
from ..workdays import add_workdays
from .common import attach_evidence, audited, lock_violation, require_status
from .sanctions import recompute_escalation, withdraw_direct_sanctions


@transaction.atomic
@audited
def file_appeal(
    violation: Violation,
    statement: str,
    *,
    acting_user,
    channel: str = Channel.SELF_SERVICE,
    files=(),
    at: datetime.datetime | None = None,
) -> Appeal:
    """The employee (or HR on their behalf) appeals within the appeal window; HR may file late, flagged."""
    violation = lock_violation(violation)
    scope = scope_for(acting_user)
    own = scope.employee_id == violation.employee_id
    system = acting_user is None  # a system job (demo seed) files as HR would
    if not (own or scope.is_hr or system):
        raise PermissionDenied(_("只能对本人的处分提出申诉。"))
    require_status(violation, ViolationStatus.SANCTIONED)
    if not violation.notified_at:
        raise ValidationError({"violation": _("尚未通知,不能申诉。")})
    if not (statement or "").strip():
        raise ValidationError({"statement": _("请填写申诉理由。")})
    at = at or timezone.now()
    late = violation.appeal_deadline is not None and timezone.localdate(at) > violation.appeal_deadline
    if late and not (scope.is_hr or system):
        raise ValidationError({"statement": _("申诉期已过(截止 %(d)s)。") % {"d": violation.appeal_deadline}})
    checked = check_evidence_files(list(files))
    days = CompanySettings.load().decision_window_workdays
    appeal = Appeal.objects.create(
        violation=violation,
        statement=statement.strip(),
        filed_by=acting_user,
        on_behalf=not own,
        filed_at=at,
        filed_late=late,
        decision_due=add_workdays(timezone.localdate(at), days),
    )
    attach_evidence(checked, violation, acting_user, appeal=appeal)
    violation.status = ViolationStatus.APPEALED
    violation.save(update_fields=["status", "updated_at"])
    return appeal


@transaction.atomic
@audited
def decide_appeal(
    appeal: Appeal,
    outcome: str,
    reason: str,
    *,
    acting_user,
    channel: str = Channel.ADMIN,
    at: datetime.datetime | None = None,
) -> Appeal:
    """HR decides: upheld keeps the sanctions; overturned withdraws them and what the ladder derived."""
    require_hr(acting_user)
    if outcome not in (AppealStatus.UPHELD, AppealStatus.OVERTURNED):
        raise ValidationError({"outcome": _("裁决结果必须是维持或撤销。")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写裁决理由。")})
    appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
    if appeal.status != AppealStatus.PENDING:
        raise ValidationError({"outcome": _("该申诉已裁决。")})
    appeal.status, appeal.decision_reason = outcome, reason.strip()
    appeal.decided_at, appeal.decided_by = at or timezone.now(), acting_user
    appeal.save(update_fields=["status", "decision_reason", "decided_at", "decided_by"])
    violation = lock_violation(appeal.violation)
    violation.status = ViolationStatus.UPHELD if outcome == AppealStatus.UPHELD else ViolationStatus.OVERTURNED
    violation.save(update_fields=["status", "updated_at"])
    if outcome == AppealStatus.OVERTURNED:
        withdraw_direct_sanctions(violation, _("申诉撤销: %(r)s") % {"r": reason.strip()})
        recompute_escalation(violation.employee, acting_user=acting_user, channel=channel)
    from ..notices import notify_appeal_decided

    notify_appeal_decided(appeal)  # the employee, by email / WeCom card, after commit, once
    return appeal


# --- What each decision would do (read-only), shown next to the decision buttons -------------------


@dataclass
class Outcome:
    """The consequences of one decision, as sentences HR reads before choosing it."""

    sanctions: list[str] = field(default_factory=list)  # the violation's own sanctions
    ladder: list[str] = field(default_factory=list)  # the escalation ladder
    performance: list[str] = field(default_factory=list)  # points, fines, forfeiture


@dataclass
class AppealConsequences:
    upheld: Outcome
    overturned: Outcome


def _kind_name(kind: str) -> str:
    return str(SanctionKind(kind).label)


def _sanction_text(sanction: Sanction) -> str:
    text = str(sanction)
    if sanction.points:
        text += _("(扣%(p)s分)") % {"p": sanction.points}
    return text


def _deduction_text(points: int, fines: Decimal, forfeit: bool) -> str:
    parts = []
    if points:
        parts.append(_("扣%(p)s分") % {"p": points})
    if fines:
        parts.append(_("罚款%(a)s元") % {"a": number_format(fines, 2, force_grouping=True)})
    if forfeit:
        parts.append(_kind_name(SanctionKind.FORFEIT_MONTH))
    return _("、").join(parts)


def _performance(sanctions: list[Sanction], *, counts: bool) -> list[str]:
    """Per month of the sanctions' violations: what is deducted (upheld) or not (overturned)."""
    by_month: dict[datetime.date, list[Sanction]] = {}
    for sanction in sanctions:
        month = timezone.localtime(sanction.violation.occurred_at).date().replace(day=1)
        by_month.setdefault(month, []).append(sanction)
    closed = set(PerformanceMonth.objects.closed().filter(month__in=by_month).values_list("month", flat=True))
    lines = []
    for month, items in sorted(by_month.items()):
        what = _deduction_text(
            sum(s.points for s in items),
            sum((s.amount or Decimal(0) for s in items), Decimal(0)),
            any(s.kind == SanctionKind.FORFEIT_MONTH for s in items),
        )
        if not what:
            continue
        values = {"m": f"{month:%Y-%m}", "what": what}
        line = (_("%(m)s绩效:%(what)s") if counts else _("%(m)s绩效:不再%(what)s")) % values
        if month in closed:
            line += _("(%(m)s已关账,作为调整记入下一个未关账月份)") % values
        lines.append(line)
    if not lines:
        lines.append(_("不影响绩效分和罚款。"))
    return lines


def appeal_consequences(appeal: Appeal, *, now: datetime.datetime | None = None) -> AppealConsequences:
    """What upholding and overturning this appeal would do, computed by the escalation ladder.

    Upheld: the violation's sanctions stand, it keeps its place on the ladder (e.g. the third warning
    in the window, which made a demerit) and its sanctions, held back while the appeal is pending,
    count in the deductions. Overturned: its sanctions are withdrawn, and the ladder is computed as
    if it had never been sanctioned (the steps it caused are withdrawn, later ones may regroup).
    """
    violation = appeal.violation
    settings = CompanySettings.load()
    window = _("%(m)s个月内") % {"m": settings.window_months}
    now = now or timezone.now()
    data = escalation.load_input(violation.employee_id)
    current = escalation.plan(data, settings)
    without = escalation.without_violation(data, violation.pk)
    added, dropped = escalation.changes(current, escalation.plan(without, settings))
    standing = Sanction.objects.filter(withdrawn_at__isnull=True).select_related("violation")
    own = list(standing.filter(violation=violation, is_derived=False))
    held = list(standing.filter(Q(violation=violation) | Q(caused_by=violation)).distinct())
    derived = {(s.ladder_step, s.kind): s for s in standing.filter(employee_id=violation.employee_id, is_derived=True)}
    upheld, overturned = Outcome(), Outcome()

    own_text = _("、").join(_sanction_text(s) for s in own) or _("无")
    upheld.sanctions.append(_("处分维持:%(s)s") % {"s": own_text})
    overturned.sanctions.append(_("处分撤回:%(s)s") % {"s": own_text})

    counted = {
        SanctionKind.WARNING: (data.warnings, without.warnings),
        SanctionKind.DEMERIT: (data.demerits, without.demerits),
    }
    for kind, (events, remaining) in counted.items():
        mine = [e for e in events if e.violation_id == violation.pk]
        if not mine:
            continue
        values: dict[str, object] = {"w": window, "kind": _kind_name(kind)}
        values["n"] = escalation.count_in_window(events, violation.occurred_at, settings.window_months)
        upheld.ladder.append(_("这是%(w)s第%(n)s次%(kind)s") % values)
        values["before"] = escalation.count_in_window(events, now, settings.window_months)
        values["after"] = escalation.count_in_window(remaining, now, settings.window_months)
        overturned.ladder.append(_("%(w)s%(kind)s次数从%(before)s次回到%(after)s次") % values)
    kept = [step for step in current if violation.pk in step.causes]
    upheld.ladder += [_("升级维持:%(s)s") % {"s": escalation.describe(step, settings)} for step in kept]
    overturned.ladder += [_("升级撤回:%(s)s") % {"s": escalation.describe(step, settings)} for step in dropped]
    overturned.ladder += [_("重新计算后新增:%(s)s") % {"s": escalation.describe(step, settings)} for step in added]
    if not kept:
        upheld.ladder.append(_("不触发升级。"))
    if not (dropped or added):
        overturned.ladder.append(_("不影响已有的升级。"))

    upheld.performance = _performance(held, counts=True)
    gone = [s for s in held if not s.is_derived] + [
        derived[(step.key, spec["kind"])]
        for step in dropped
        for spec in step.specs
        if (step.key, spec["kind"]) in derived
    ]
    overturned.performance = _performance(list({s.pk: s for s in gone}.values()), counts=False)
    if added:
        overturned.performance.append(_("新增的升级处分按重新计算的结果计入绩效。"))
    return AppealConsequences(upheld=upheld, overturned=overturned)

"""Sanctions: impose the rule's defaults (or chosen ones), record a removal done, the notice given
(which starts the appeal window), and the escalation ladder derived from them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups import services as group_services
from groups.models import Employee
from portal import outbox
from portal.choices import Channel
from portal.scoping import require_hr, scope_for

from .. import escalation, notices
from ..choices import SanctionKind, ViolationStatus
from ..models import CompanySettings, Rule, Sanction, Violation, validate_sanction_specs
from ..workdays import add_workdays
from .common import audited, lock_violation, require_status


def withdraw_direct_sanctions(violation: Violation, reason: str) -> None:
    now = timezone.now()
    for sanction in violation.sanctions.select_for_update().filter(is_derived=False, withdrawn_at__isnull=True):
        sanction.withdrawn_at = now
        sanction.withdrawn_reason = reason[:300]
        sanction.save(update_fields=["withdrawn_at", "withdrawn_reason"])


def _build_sanction(violation: Violation, spec: dict, settings: CompanySettings, *, main: bool) -> Sanction:
    kind = spec["kind"]
    amount = None
    if kind == SanctionKind.FINE:
        amount = Decimal(str(spec.get("amount") or violation.rule.fine_amount))
    if "points" in spec:
        points = spec["points"]
    elif kind == SanctionKind.POINTS or (main and violation.rule.performance_points):
        points = violation.rule.performance_points
    else:
        points = settings.points_for(kind)
    return Sanction(
        violation=violation,
        employee_id=violation.employee_id,
        kind=kind,
        amount=amount,
        points=points,
        days=spec.get("days"),
    )


def default_specs(rule: Rule) -> list[dict]:
    """The rule's default sanctions, a fine taking the rule's amount when the spec names none."""
    specs = []
    for spec in rule.default_sanctions:
        spec = dict(spec)
        if spec["kind"] == SanctionKind.FINE and "amount" not in spec:
            spec["amount"] = str(rule.fine_amount)
        specs.append(spec)
    return specs


@transaction.atomic
@audited
def apply_sanctions(
    violation: Violation, sanctions: list[dict] | None = None, *, acting_user, channel: str = Channel.ADMIN
) -> list[Sanction]:
    """Impose sanctions on a confirmed violation (the rule's defaults when ``sanctions`` is None).

    The first sanction carries the rule's performance points if the rule sets them; the others the
    company's points per kind. Then the ladder is recomputed for the employee.
    """
    require_hr(acting_user)
    violation = lock_violation(violation)
    require_status(violation, ViolationStatus.CONFIRMED, ViolationStatus.SANCTIONED)
    specs = default_specs(violation.rule) if sanctions is None else sanctions
    try:
        validate_sanction_specs(specs)
    except ValidationError as exc:
        raise ValidationError({"sanctions": exc.messages}) from exc
    if not specs:
        raise ValidationError({"sanctions": _("至少选择一项处分。")})
    settings = CompanySettings.load()
    created = []
    for index, spec in enumerate(specs):
        sanction = _build_sanction(violation, spec, settings, main=index == 0)
        sanction.created_by = acting_user
        sanction.full_clean(exclude=["violation", "employee"], validate_unique=False)
        sanction.save()
        created.append(sanction)
    if violation.status != ViolationStatus.SANCTIONED:
        violation.status = ViolationStatus.SANCTIONED
        violation.save(update_fields=["status", "updated_at"])
    recompute_escalation(violation.employee, acting_user=acting_user, channel=channel)
    return created


@transaction.atomic
@audited
def record_removal_done(
    sanction: Sanction, *, acting_user, channel: str = Channel.ADMIN, at: datetime.datetime | None = None
) -> Sanction:
    """Record that a removal from the group (or a mute) was carried out."""
    if acting_user is not None:
        scope = scope_for(acting_user)
        group_id = sanction.violation.group_id
        if not (scope.is_hr or (group_id and group_id in scope.group_ids)):
            raise PermissionDenied(_("只有人资或该群的群主/管理员可以登记执行。"))
    sanction = Sanction.objects.select_for_update().get(pk=sanction.pk)
    if sanction.kind not in (SanctionKind.REMOVAL, SanctionKind.MUTE):
        raise ValidationError({"kind": _("只有清出群和禁言需要登记执行。")})
    if sanction.withdrawn_at or sanction.carried_out_at:
        raise ValidationError({"carried_out_at": _("该处分已撤回或已登记执行。")})
    sanction.carried_out_at = at or timezone.now()
    sanction.carried_out_by = acting_user
    sanction.save(update_fields=["carried_out_at", "carried_out_by"])
    _carry_into_group(sanction, acting_user)
    return sanction


def _carry_into_group(sanction: Sanction, acting_user) -> None:
    """What the group keeps of a carried-out sanction (groups import no violations: it is data there).

    清出群: the membership closes (the next roster snapshot checks it) and a rejoin bar of ``days``
    days (empty: permanent) is written; 禁言: a mute until the end date, shown to the group's admins.
    """
    violation = sanction.violation
    group = violation.group
    if group is None:
        return
    source = f"violations.Sanction:{sanction.pk}"
    reason = f"{violation.rule.code} {sanction}"
    write = group_services.remove_from_group if sanction.kind == SanctionKind.REMOVAL else group_services.mute_in_group
    write(
        group,
        violation.employee,
        acting_user=acting_user,
        source=source,
        days=sanction.days,
        reason=reason,
        at=sanction.carried_out_at,
    )


@transaction.atomic
@audited
def mark_notified(
    violation: Violation, *, acting_user, channel: str = Channel.ADMIN, at: datetime.datetime | None = None
) -> Violation:
    """The employee was told of the sanctions: starts the appeal window (working days)."""
    require_hr(acting_user)
    violation = lock_violation(violation)
    require_status(violation, ViolationStatus.SANCTIONED)
    if violation.notified_at:
        raise ValidationError({"notified_at": _("已通知过。")})
    violation.notified_at = at or timezone.now()
    days = CompanySettings.load().appeal_window_workdays
    violation.appeal_deadline = add_workdays(timezone.localdate(violation.notified_at), days)
    violation.save(update_fields=["notified_at", "appeal_deadline", "updated_at"])
    notices.notify_sanctioned(violation)  # email / WeCom card, after commit, once
    return violation


RECOMPUTE_CHUNK = 200


def enqueue_recompute(employee_ids: list[int]) -> None:
    from ..tasks import recompute_escalation_task

    for start in range(0, len(employee_ids), RECOMPUTE_CHUNK):
        chunk = employee_ids[start : start + RECOMPUTE_CHUNK]
        outbox.send(recompute_escalation_task, chunk)  # after commit; kept for later if the broker is down


@dataclass(frozen=True)
class RecomputeResult:
    created: list[Sanction]
    withdrawn: list[Sanction]


@transaction.atomic
@audited
def recompute_escalation(employee: Employee, *, acting_user, channel: str = Channel.SYSTEM) -> RecomputeResult:
    """Bring the employee's derived sanctions in line with the ladder: create missing, withdraw stale.

    Idempotent: a second run changes nothing. The employee row is locked so two recomputes queue.
    """
    Employee.objects.select_for_update().filter(pk=employee.pk).first()
    settings = CompanySettings.load()
    steps = escalation.plan(escalation.load_input(employee.pk), settings)
    desired = {(step.key, spec["kind"]): (step, spec) for step in steps for spec in step.specs}
    existing = Sanction.objects.select_for_update().filter(
        employee=employee, is_derived=True, withdrawn_at__isnull=True
    )
    withdrawn, now = [], timezone.now()
    for sanction in existing:
        if desired.pop((sanction.ladder_step, sanction.kind), None) is None:
            sanction.withdrawn_at = now
            sanction.withdrawn_reason = _("升级条件不再成立(起因已撤销或不予处理)")
            sanction.save(update_fields=["withdrawn_at", "withdrawn_reason"])
            withdrawn.append(sanction)
    created = [_derive(step, spec, settings, acting_user) for step, spec in desired.values()]
    return RecomputeResult(created=created, withdrawn=withdrawn)


def _derive(step: escalation.Step, spec: dict, settings: CompanySettings, acting_user) -> Sanction:
    if step.trigger.violation_id is None:
        raise ValueError(f"ladder step {step!r} has no triggering violation")
    violation = Violation.objects.get(pk=step.trigger.violation_id)
    sanction = Sanction(
        violation=violation,
        employee_id=violation.employee_id,
        kind=spec["kind"],
        points=spec.get("points", settings.points_for(spec["kind"])),
        days=spec.get("days"),
        amount=spec.get("amount"),
        is_derived=True,
        ladder_step=step.key,
        explanation=escalation.describe(step, settings)[:300],
        created_by=acting_user,
    )
    sanction.save()
    sanction.caused_by.set([pk for pk in step.causes if pk is not None])
    return sanction


def preview_escalation(
    employee: Employee, rule: Rule, occurred_at: datetime.datetime, sanctions: list[dict] | None = None
) -> list[str]:
    """What the ladder would add if this violation were recorded with these sanctions (read-only).

    Returns sentences such as "第3次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)".
    """
    settings = CompanySettings.load()
    specs = default_specs(rule) if sanctions is None else sanctions
    data = escalation.load_input(employee.pk)
    before = escalation.plan(data, settings)
    event = escalation.Event("new", occurred_at, None, frozenset([None]))
    kinds = {s["kind"] for s in specs}
    if SanctionKind.WARNING in kinds:
        data.warnings.append(event)
    if SanctionKind.DEMERIT in kinds:
        data.demerits.append(event)
    if rule.repeat_threshold:
        entry = data.repeats.setdefault(rule.code, (rule.repeat_threshold, tuple(rule.repeat_sanctions), []))
        entry[2].append(escalation.Event("vnew", occurred_at, None, frozenset([None])))
    added, dropped = escalation.changes(before, escalation.plan(data, settings))
    sentences = [escalation.describe(step, settings) for step in added]
    withdrawn = len(dropped)
    if withdrawn:
        sentences.append(_("补录在先,已有的%(n)s项升级将重新计算") % {"n": withdrawn})
    return sentences

"""Writes of the violations app. Admin, API, self-service views, tasks and commands call these.

Every service is atomic, takes ``acting_user`` keyword-only (None only for system jobs such as the
demo seed), records ``channel`` in the audit trail, and raises ValidationError naming the field.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import os
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.accounts import is_departed
from groups.models import ChatGroup, Employee
from portal import outbox
from portal.scoping import scope_for

from . import escalation
from .audit import audit_context, report_time
from .choices import AppealStatus, Channel, SanctionKind, ViolationStatus
from .evidence import CheckedFile, check_evidence_files, scrub_for_anonymous_report
from .models import Appeal, CompanySettings, Evidence, Rule, Sanction, Violation, validate_sanction_specs
from .workdays import add_workdays

FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
# Older dates are typing errors; before 1901 time zones even use local mean time (+08:05:43 for Shanghai).
EARLIEST_OCCURRENCE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def audited(func):
    """Run the service inside an audit context naming the acting user and the channel."""

    default_channel = inspect.signature(func).parameters["channel"].default

    @functools.wraps(func)
    def wrapper(*args, acting_user, channel: str | None = None, **kwargs):
        channel = channel or default_channel
        with audit_context(acting_user, channel):
            return func(*args, acting_user=acting_user, channel=channel, **kwargs)

    return wrapper


def _require_hr(user) -> None:
    # None is a system job (seed, command); people must be HR admins to decide on violations.
    if user is not None and not scope_for(user).is_hr:
        raise PermissionDenied(_("只有人资管理员可以执行此操作。"))


def _lock(violation: Violation) -> Violation:
    return Violation.objects.select_for_update().select_related("rule", "employee").get(pk=violation.pk)


def _require_status(violation: Violation, *allowed: str) -> None:
    if violation.status not in allowed:
        raise ValidationError(
            {"status": _("当前状态为“%(s)s”,不能执行此操作。") % {"s": violation.get_status_display()}}
        )


def _check_occurred_at(occurred_at: datetime.datetime) -> None:
    if timezone.is_naive(occurred_at):
        raise ValidationError({"occurred_at": _("发生时间必须带时区。")})
    if occurred_at > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({"occurred_at": _("发生时间不能晚于现在。")})
    if occurred_at < EARLIEST_OCCURRENCE:
        raise ValidationError({"occurred_at": _("发生时间不能早于2000年。")})


def _attach(
    files: list[CheckedFile],
    violation: Violation,
    user,
    appeal: Appeal | None = None,
    *,
    uploaded_at: datetime.datetime | None = None,
) -> None:
    for checked in files:
        evidence = Evidence(
            violation=violation,
            appeal=appeal,
            original_name=checked.name[:255],
            file_type=checked.file_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by=user,
            uploaded_at=uploaded_at or timezone.now(),
        )
        evidence.file.save(checked.name, checked.upload, save=False)
        if uploaded_at is not None:
            _set_file_times(evidence, uploaded_at)
        evidence.save()


def _set_file_times(evidence: Evidence, moment: datetime.datetime) -> None:
    """The stored file's modification time says no more than the row does."""
    try:
        path = evidence.file.path
    except NotImplementedError:  # a storage without local paths keeps its own times
        return
    os.utime(path, (moment.timestamp(), moment.timestamp()))


@transaction.atomic
@audited
def record_violation(
    employee: Employee,
    rule: Rule,
    occurred_at: datetime.datetime,
    description: str,
    *,
    acting_user,
    channel: str = Channel.ADMIN,
    group: ChatGroup | None = None,
    reporter=None,
    is_anonymous: bool = False,
    evidence_files=(),
    confirmed: bool = False,
) -> Violation:
    """HR records a violation (status reported, or confirmed when HR saw it first-hand)."""
    _require_hr(acting_user)
    return _create_violation(
        employee,
        rule,
        occurred_at,
        description,
        acting_user=acting_user,
        channel=channel,
        group=group,
        reporter=reporter,
        is_anonymous=is_anonymous,
        evidence_files=evidence_files,
        status=ViolationStatus.CONFIRMED if confirmed else ViolationStatus.REPORTED,
    )


def _create_violation(
    employee,
    rule,
    occurred_at,
    description,
    *,
    acting_user,
    channel,
    group,
    reporter,
    is_anonymous,
    evidence_files,
    status,
) -> Violation:
    if not rule.is_active:
        raise ValidationError({"rule": _("条款 %(code)s 已停用。") % {"code": rule.code}})
    if not (description or "").strip():
        raise ValidationError({"description": _("请填写违规经过。")})
    _check_occurred_at(occurred_at)
    files = check_evidence_files(list(evidence_files))
    # An anonymous report keeps no exact time of its own (a proxy log could be joined on it): it is
    # stored at the start of the hour, and its images lose their metadata and names.
    created_at = report_time() if is_anonymous else timezone.now()
    if is_anonymous:
        files = scrub_for_anonymous_report(files)
    violation = Violation.objects.create(
        employee=employee,
        group=group,
        rule=rule,
        occurred_at=occurred_at,
        description=description.strip(),
        reporter=None if is_anonymous else reporter,
        is_anonymous=is_anonymous,
        recorded_by=None if is_anonymous else acting_user,
        channel=channel,
        status=status,
        created_at=created_at,
    )
    if is_anonymous:
        Violation.objects.filter(pk=violation.pk).update(updated_at=created_at)
        violation.updated_at = created_at
        _attach(files, violation, None, uploaded_at=created_at)
    else:
        _attach(files, violation, acting_user)
    return violation


@transaction.atomic
def record_and_sanction(
    employee: Employee,
    rule: Rule,
    occurred_at: datetime.datetime,
    description: str,
    *,
    acting_user,
    channel: str = Channel.API,
    sanctions: list[dict] | None = None,
    impose: bool = False,
    **fields,
) -> Violation:
    """Record a violation and, when ``impose``, sanction it at once (the rule's defaults unless ``sanctions``).

    One transaction: if the sanctions are invalid, the violation is not recorded either.
    """
    confirmed = fields.pop("confirmed", False) or impose
    violation = record_violation(
        employee,
        rule,
        occurred_at,
        description,
        acting_user=acting_user,
        channel=channel,
        confirmed=confirmed,
        **fields,
    )
    if impose:
        apply_sanctions(violation, sanctions, acting_user=acting_user, channel=channel)
    return violation


@transaction.atomic
def report_violation(
    employee: Employee,
    rule: Rule,
    occurred_at: datetime.datetime,
    description: str,
    *,
    acting_user,
    channel: str = Channel.SELF_SERVICE,
    group: ChatGroup | None = None,
    is_anonymous: bool = False,
    evidence_files=(),
) -> Violation:
    """Anyone with an account reports a suspected violation (举报); it lands as ``reported``.

    Anonymous: no reporter, no recorder, no uploader is stored, and the audit entries carry no
    actor, IP or correlation id — the identity is kept nowhere, so it cannot leak to the reported
    person. The report's own times (created, updated, evidence uploaded, its audit entries) are the
    start of the hour, images are stripped of their metadata and renamed, PDFs refused. A departed
    employee's account cannot report (groups.accounts).
    """
    if acting_user is None or not acting_user.is_authenticated:
        raise PermissionDenied(_("请先登录。"))
    if not acting_user.is_active or is_departed(acting_user):
        raise PermissionDenied(_("账号已停用(已离职),不能举报。"))
    if scope_for(acting_user).employee_id == employee.pk:
        raise ValidationError({"employee": _("不能举报自己。")})
    with audit_context(acting_user, channel, anonymous=is_anonymous):
        return _create_violation(
            employee,
            rule,
            occurred_at,
            description,
            acting_user=acting_user,
            channel=channel,
            group=group,
            reporter=acting_user,
            is_anonymous=is_anonymous,
            evidence_files=evidence_files,
            status=ViolationStatus.REPORTED,
        )


@transaction.atomic
@audited
def add_evidence(violation: Violation, files, *, acting_user, channel: str = Channel.ADMIN) -> int:
    """Attach more evidence files to a violation (all checked first; none stored if one fails)."""
    _require_hr(acting_user)
    checked = check_evidence_files(list(files))
    _attach(checked, violation, acting_user)
    return len(checked)


@transaction.atomic
@audited
def confirm_violation(violation: Violation, *, acting_user, channel: str = Channel.ADMIN) -> Violation:
    """HR confirms a reported violation happened (reported → confirmed)."""
    _require_hr(acting_user)
    violation = _lock(violation)
    _require_status(violation, ViolationStatus.REPORTED)
    violation.status = ViolationStatus.CONFIRMED
    violation.save(update_fields=["status", "updated_at"])
    return violation


@transaction.atomic
@audited
def dismiss_violation(violation: Violation, reason: str, *, acting_user, channel: str = Channel.ADMIN) -> Violation:
    """Not a violation after all (不予处理): withdraws its sanctions and what the ladder derived from them."""
    _require_hr(acting_user)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写不予处理的理由。")})
    violation = _lock(violation)
    _require_status(violation, ViolationStatus.REPORTED, ViolationStatus.CONFIRMED, ViolationStatus.SANCTIONED)
    violation.status = ViolationStatus.DISMISSED
    violation.dismissed_reason = reason.strip()
    violation.save(update_fields=["status", "dismissed_reason", "updated_at"])
    _withdraw_direct(violation, _("不予处理: %(r)s") % {"r": reason.strip()})
    recompute_escalation(violation.employee, acting_user=acting_user, channel=channel)
    return violation


def _withdraw_direct(violation: Violation, reason: str) -> None:
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
    _require_hr(acting_user)
    violation = _lock(violation)
    _require_status(violation, ViolationStatus.CONFIRMED, ViolationStatus.SANCTIONED)
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
    return sanction


@transaction.atomic
@audited
def notify(
    violation: Violation, *, acting_user, channel: str = Channel.ADMIN, at: datetime.datetime | None = None
) -> Violation:
    """The employee was told of the sanctions: starts the appeal window (working days)."""
    _require_hr(acting_user)
    violation = _lock(violation)
    _require_status(violation, ViolationStatus.SANCTIONED)
    if violation.notified_at:
        raise ValidationError({"notified_at": _("已通知过。")})
    violation.notified_at = at or timezone.now()
    days = CompanySettings.load().appeal_window_workdays
    violation.appeal_deadline = add_workdays(timezone.localdate(violation.notified_at), days)
    violation.save(update_fields=["notified_at", "appeal_deadline", "updated_at"])
    return violation


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
    violation = _lock(violation)
    scope = scope_for(acting_user)
    own = scope.employee_id == violation.employee_id
    system = acting_user is None  # a system job (demo seed) files as HR would
    if not (own or scope.is_hr or system):
        raise PermissionDenied(_("只能对本人的处分提出申诉。"))
    _require_status(violation, ViolationStatus.SANCTIONED)
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
    _attach(checked, violation, acting_user, appeal=appeal)
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
    _require_hr(acting_user)
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
    violation = _lock(appeal.violation)
    violation.status = ViolationStatus.UPHELD if outcome == AppealStatus.UPHELD else ViolationStatus.OVERTURNED
    violation.save(update_fields=["status", "updated_at"])
    if outcome == AppealStatus.OVERTURNED:
        _withdraw_direct(violation, _("申诉撤销: %(r)s") % {"r": reason.strip()})
        recompute_escalation(violation.employee, acting_user=acting_user, channel=channel)
    return appeal


LADDER_SETTINGS = ("warnings_per_demerit", "demerits_for_dismissal", "window_months")
LADDER_RULE_FIELDS = ("repeat_threshold", "repeat_sanctions")
RECOMPUTE_CHUNK = 200


def _enqueue_recompute(employee_ids: list[int]) -> None:
    from .tasks import recompute_escalation_task

    for start in range(0, len(employee_ids), RECOMPUTE_CHUNK):
        chunk = employee_ids[start : start + RECOMPUTE_CHUNK]
        outbox.send(recompute_escalation_task, chunk)  # after commit; kept for later if the broker is down


@transaction.atomic
@audited
def save_company_settings(settings: CompanySettings, *, acting_user, channel: str = Channel.ADMIN) -> bool:
    """Save HR's edit of the settings; a changed ladder is recomputed for everyone affected (after commit).

    Returns whether a recompute was enqueued.
    """
    _require_hr(acting_user)
    settings.full_clean()
    before = CompanySettings.objects.filter(pk=settings.pk).values(*LADDER_SETTINGS).first()
    settings.save()
    if before is None or any(before[f] != getattr(settings, f) for f in LADDER_SETTINGS):
        ids = list(Sanction.objects.values_list("employee_id", flat=True).distinct().order_by("employee_id"))
        _enqueue_recompute(ids)
        return True
    return False


@transaction.atomic
@audited
def save_rule(rule: Rule, *, acting_user, channel: str = Channel.ADMIN) -> bool:
    """Save HR's edit of a rule; a changed repeat escalation is recomputed for its offenders (after commit)."""
    _require_hr(acting_user)
    rule.full_clean()
    before = Rule.objects.filter(pk=rule.pk).values(*LADDER_RULE_FIELDS).first() if rule.pk else None
    rule.save()
    if before is not None and any(before[f] != getattr(rule, f) for f in LADDER_RULE_FIELDS):
        ids = list(rule.violations.values_list("employee_id", flat=True).distinct().order_by("employee_id"))
        _enqueue_recompute(ids)
        return True
    return False


@transaction.atomic
def create_rule(*, acting_user, channel: str = Channel.API, **fields) -> Rule:
    """HR adds a clause to the catalog (validated like the admin form)."""
    rule = Rule(**fields)
    save_rule(rule, acting_user=acting_user, channel=channel)
    return rule


@transaction.atomic
def update_rule(rule: Rule, *, acting_user, channel: str = Channel.API, **changes) -> Rule:
    """HR edits a clause; deactivation (``is_active=False``) replaces deletion."""
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    for name, value in changes.items():
        setattr(rule, name, value)
    save_rule(rule, acting_user=acting_user, channel=channel)
    return rule


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
    before = {s.key for s in escalation.plan(data, settings)}
    event = escalation.Event("new", occurred_at, None, frozenset([None]))
    kinds = {s["kind"] for s in specs}
    if SanctionKind.WARNING in kinds:
        data.warnings.append(event)
    if SanctionKind.DEMERIT in kinds:
        data.demerits.append(event)
    if rule.repeat_threshold:
        entry = data.repeats.setdefault(rule.code, (rule.repeat_threshold, tuple(rule.repeat_sanctions), []))
        entry[2].append(escalation.Event("vnew", occurred_at, None, frozenset([None])))
    after = escalation.plan(data, settings)
    sentences = [escalation.describe(step, settings) for step in after if step.key not in before]
    withdrawn = len(before - {s.key for s in after})
    if withdrawn:
        sentences.append(_("补录在先,已有的%(n)s项升级将重新计算") % {"n": withdrawn})
    return sentences

"""Violations: record (HR), report (employees, possibly anonymously), confirm, dismiss, add evidence."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.accounts import is_departed
from groups.models import ChatGroup, Employee
from portal.audit import audit_context, report_time
from portal.choices import Channel
from portal.scoping import require_hr, scope_for

from ..choices import ViolationStatus
from ..evidence import check_evidence_files, scrub_for_anonymous_report
from ..models import CompanySettings, Rule, Violation
from .common import attach_evidence, audited, lock_violation, require_status
from .sanctions import apply_sanctions, recompute_escalation, withdraw_direct_sanctions

FUTURE_TOLERANCE = datetime.timedelta(minutes=5)


# Older dates are typing errors; before 1901 time zones even use local mean time (+08:05:43 for Shanghai).
EARLIEST_OCCURRENCE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def duplicate_window() -> datetime.timedelta:
    """公司设置 › 疑似重复时间窗(小时), default 24 h before or after the occurrence."""
    return datetime.timedelta(hours=CompanySettings.load().duplicate_window_hours)


def likely_duplicates(
    employee: Employee | None,
    rule: Rule | None,
    group: ChatGroup | None,
    occurred_at: datetime.datetime | None,
    description: str,
    *,
    user,
) -> list[Violation]:
    """The duplicate check of every place a violation is recorded (admin form, report page, API).

    Only records ``user`` may see are named: a reporter never learns of a report they could not
    see anyway. See ``ViolationQuerySet.likely_duplicates`` for the criteria.
    """
    return Violation.objects.visible_to(user).likely_duplicates(
        employee=employee,
        rule=rule,
        group=group,
        occurred_at=occurred_at,
        description=description,
        window=duplicate_window(),
    )


def duplicate_summary(violation: Violation) -> str:
    """One line naming an existing record in a duplicate warning: 姓名 (工号) · 条款 · 时间 · 状态 · 原因."""
    reasons = {"rule_group": _("同一条款和工作群"), "text": _("经过文字相同")}
    because = _("、").join(str(reasons[r]) for r in getattr(violation, "duplicate_reasons", ()))
    return _("#%(pk)s %(name)s (%(no)s) · %(rule)s · %(when)s · %(status)s · %(why)s") % {
        "pk": violation.pk,
        "name": violation.employee.name,
        "no": violation.employee.employee_no,
        "rule": violation.rule.code,
        "when": f"{timezone.localtime(violation.occurred_at):%Y-%m-%d %H:%M}",
        "status": violation.get_status_display(),
        "why": because,
    }


def _check_occurred_at(occurred_at: datetime.datetime) -> None:
    if timezone.is_naive(occurred_at):
        raise ValidationError({"occurred_at": _("发生时间必须带时区。")})
    if occurred_at > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({"occurred_at": _("发生时间不能晚于现在。")})
    if occurred_at < EARLIEST_OCCURRENCE:
        raise ValidationError({"occurred_at": _("发生时间不能早于2000年。")})


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
    require_hr(acting_user)
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
    files = _checked_files(rule, occurred_at, description, evidence_files, is_anonymous=is_anonymous)
    # An anonymous report keeps no exact time of its own (a proxy log could be joined on it): it is
    # stored at the start of the hour, and its images lose their metadata and names.
    created_at = report_time() if is_anonymous else timezone.now()
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
        attach_evidence(files, violation, None, uploaded_at=created_at)
    else:
        attach_evidence(files, violation, acting_user)
    return violation


def _checked_files(rule, occurred_at, description, evidence_files, *, is_anonymous):
    if not rule.is_active:
        raise ValidationError({"rule": _("条款 %(code)s 已停用。") % {"code": rule.code}})
    if not (description or "").strip():
        raise ValidationError({"description": _("请填写违规经过。")})
    _check_occurred_at(occurred_at)
    files = check_evidence_files(list(evidence_files))
    return scrub_for_anonymous_report(files) if is_anonymous else files


def _same_anonymous_report(employee, rule, group, occurred_at, description) -> Violation | None:
    """The first anonymous report of the same thing still waiting for HR: same employee, rule and
    group, same text once normalised, within the duplicate window. None if there is none."""
    # One report at a time per reported employee: two identical reports sent together are counted, not doubled.
    Employee.objects.select_for_update().filter(pk=employee.pk).exists()
    candidates = Violation.objects.filter(is_anonymous=True, status=ViolationStatus.REPORTED).likely_duplicates(
        employee=employee,
        rule=rule,
        group=group,
        occurred_at=occurred_at,
        description=description,
        window=duplicate_window(),
    )
    same = [v for v in candidates if set(v.duplicate_reasons) == {"rule_group", "text"}]
    return same[0] if same else None


def _count_again(violation: Violation, files) -> Violation:
    """Add an identical anonymous report to the first one: count it and keep its (scrubbed) evidence.

    The row's times stay at the start of an hour and the audit entry names no one (anonymous context).
    """
    stamp = report_time()
    violation = Violation.objects.select_for_update().get(pk=violation.pk)
    violation.report_count += 1
    violation.save(update_fields=["report_count", "updated_at"])
    Violation.objects.filter(pk=violation.pk).update(updated_at=stamp)
    violation.updated_at = stamp
    attach_evidence(files, violation, None, uploaded_at=stamp)
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

    An anonymous report identical to one still waiting for HR (``_same_anonymous_report``) is not a
    new violation: the first one counts it (``report_count``, shown to HR as 同一举报 ×N) and keeps its
    evidence. The reporter sees the same answer either way.
    """
    if acting_user is None or not acting_user.is_authenticated:
        raise PermissionDenied(_("请先登录。"))
    if not acting_user.is_active or is_departed(acting_user):
        raise PermissionDenied(_("账号已停用(已离职),不能举报。"))
    if scope_for(acting_user).employee_id == employee.pk:
        raise ValidationError({"employee": _("不能举报自己。")})
    with audit_context(acting_user, channel, anonymous=is_anonymous):
        if is_anonymous:
            same = _same_anonymous_report(employee, rule, group, occurred_at, description)
            if same is not None:
                files = _checked_files(rule, occurred_at, description, evidence_files, is_anonymous=True)
                return _count_again(same, files)
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
    require_hr(acting_user)
    checked = check_evidence_files(list(files))
    attach_evidence(checked, violation, acting_user)
    return len(checked)


def require_decider(violation: Violation, acting_user) -> None:
    """HR decides every violation; a suspicion of chat detection (待核实) may also be decided by an
    admin of its group — never one naming the admin themselves. Anyone else: refused."""
    if acting_user is None or scope_for(acting_user).is_hr:
        return
    if violation.status == ViolationStatus.SUSPECTED and violation.group_id:
        in_group = ChatGroup.objects.administered_by(acting_user).filter(pk=violation.group_id).exists()
        if in_group and scope_for(acting_user).employee_id != violation.employee_id:
            return
        if in_group:
            raise PermissionDenied(_("不能核实涉及自己的记录,请交人资处理。"))
    raise PermissionDenied(_("只有人资管理员可以执行此操作。"))


@transaction.atomic
@audited
def confirm_violation(violation: Violation, *, acting_user, channel: str = Channel.ADMIN) -> Violation:
    """A reported violation or a detection's suspicion happened (reported | suspected → confirmed).

    From here it is an ordinary violation: HR sanctions it (the ladder counts it then), its
    deductions and appeal follow. A suspicion may be confirmed by an admin of its group too."""
    violation = lock_violation(violation)
    require_decider(violation, acting_user)
    require_status(violation, ViolationStatus.REPORTED, ViolationStatus.SUSPECTED)
    violation.status = ViolationStatus.CONFIRMED
    violation.save(update_fields=["status", "updated_at"])
    return violation


@transaction.atomic
@audited
def dismiss_violation(violation: Violation, reason: str, *, acting_user, channel: str = Channel.ADMIN) -> Violation:
    """Not a violation after all (不予处理): withdraws its sanctions and what the ladder derived from them.

    A detection's suspicion (待核实) may be dismissed by an admin of its group too; it stays
    dismissed: a rerun of detection finds its hit already stored and adds nothing."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写不予处理的理由。")})
    violation = lock_violation(violation)
    require_decider(violation, acting_user)
    require_status(
        violation,
        ViolationStatus.REPORTED,
        ViolationStatus.SUSPECTED,
        ViolationStatus.CONFIRMED,
        ViolationStatus.SANCTIONED,
    )
    violation.status = ViolationStatus.DISMISSED
    violation.dismissed_reason = reason.strip()
    violation.save(update_fields=["status", "dismissed_reason", "updated_at"])
    withdraw_direct_sanctions(violation, _("不予处理: %(r)s") % {"r": reason.strip()})
    recompute_escalation(violation.employee, acting_user=acting_user, channel=channel)
    return violation

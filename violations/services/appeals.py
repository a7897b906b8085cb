"""Appeals: filed by the employee within the window of working days, decided by HR."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.choices import Channel
from portal.scoping import require_hr, scope_for

from ..choices import AppealStatus, ViolationStatus
from ..evidence import check_evidence_files
from ..models import Appeal, CompanySettings, Violation
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

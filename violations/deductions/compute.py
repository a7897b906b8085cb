"""Compute and close a month: one transaction, the open months locked in order, one audit summary."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit import audit_context, log_summary
from portal.choices import Channel
from portal.months import month_bounds, parse_month
from portal.scoping import require_hr

from ..choices import DeductionKind, MonthStatus
from ..models import CompanySettings, PerformanceDeduction, PerformanceMonth, Sanction
from .adjustments import book_adjustments
from .rows import active_employees, regular_row, sanction_entries
from .upsert import delete_stale_regular, upsert, upsert_base_rows
from .wording import closed_month_message


@dataclass(frozen=True)
class ComputeResult:
    """What one computation did, for the command's output, the task's result and the audit entry."""

    month: str
    employees: int
    sanctions: int
    rows_written: int
    rows_deleted: int
    adjustments: int
    closed: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@transaction.atomic
def compute_month(month: str | datetime.date, *, acting_user=None, channel: str = Channel.SYSTEM) -> ComputeResult:
    """(Re)compute an open month's rows and its adjustments of closed months; refuses a closed month.

    ``acting_user`` None is a system job (beat, command); a person must be an HR admin.
    """
    require_hr(acting_user)
    month = _checked_month(month)
    with audit_context(acting_user, channel):
        period = _lock_open_month(month)
        result = _compute_locked(period, acting_user)
        _log(period, result, _("计算绩效扣分"))
    return result


@transaction.atomic
def close_month(month: str | datetime.date, *, acting_user, channel: str = Channel.ADMIN) -> ComputeResult:
    """Compute the month one last time and freeze it (关账); later changes become adjustments."""
    require_hr(acting_user)
    month = _checked_month(month)
    if month_bounds(month)[1] > timezone.now():
        raise ValidationError({"month": _("%(m)s 尚未结束,不能关账。") % {"m": f"{month:%Y-%m}"}})
    with audit_context(acting_user, channel):
        period = _lock_open_month(month)
        result = _compute_locked(period, acting_user)
        period.status = MonthStatus.CLOSED
        period.closed_at = timezone.now()
        period.closed_by = acting_user
        period.save(update_fields=["status", "closed_at", "closed_by"])  # audited by auditlog
        result = ComputeResult(**{**result.as_dict(), "closed": True})
        _log(period, result, _("关账"))
    return result


def _checked_month(value: str | datetime.date) -> datetime.date:
    month = parse_month(value)
    if month > timezone.localdate().replace(day=1):
        raise ValidationError({"month": _("不能计算未来的月份 %(m)s。") % {"m": f"{month:%Y-%m}"}})
    return month


def _lock_open_month(month: datetime.date) -> PerformanceMonth:
    PerformanceMonth.objects.get_or_create(month=month)
    # Lock every open month, in month order: computations of the same month, of two months that
    # could both book an adjustment for the same closed month, and a close, all queue here.
    list(PerformanceMonth.objects.select_for_update().filter(status=MonthStatus.OPEN).order_by("month"))
    period = PerformanceMonth.objects.get(month=month)
    if period.is_closed:
        raise ValidationError({"month": closed_month_message(period)})
    return period


def _compute_locked(period: PerformanceMonth, acting_user) -> ComputeResult:
    month, now = period.month, timezone.now()
    base = CompanySettings.load().base_monthly_score
    counting = Sanction.objects.effective_for_month(month)
    entries = sanction_entries(counting)
    rows = [regular_row(pk, month, base, items, now) for pk, items in sorted(entries.items())]
    written = upsert(rows, conflict=("employee_id", "month"), kind=DeductionKind.REGULAR)
    # Everyone else active in the month gets the base score, written in one INSERT … SELECT.
    unsanctioned = active_employees(month).exclude(pk__in=counting.values("employee_id"))
    written += upsert_base_rows(unsanctioned, month, base, now)
    deleted = delete_stale_regular(month, counting)
    adjustments = book_adjustments(month, now)
    period.computed_at, period.computed_by = now, acting_user
    period.save(update_fields=["computed_at", "computed_by"])
    return ComputeResult(
        month=f"{month:%Y-%m}",
        employees=PerformanceDeduction.objects.filter(month=month, kind=DeductionKind.REGULAR).count(),
        sanctions=sum(len(items) for items in entries.values()),
        rows_written=written + adjustments.written,
        rows_deleted=deleted + adjustments.deleted,
        adjustments=adjustments.count,
    )


def _log(period: PerformanceMonth, result: ComputeResult, what: str) -> None:
    # The rows are written in bulk (no signals): one summary entry in the audit trail per run.
    summary = _("%(what)s %(m)s: %(n)s 名员工, %(w)s 行写入, %(d)s 行删除, %(a)s 条调整") % {
        "what": what,
        "m": result.month,
        "n": result.employees,
        "w": result.rows_written,
        "d": result.rows_deleted,
        "a": result.adjustments,
    }
    log_summary(period, label=str(period), changes={"deductions": ["", summary]}, data={"deductions": result.as_dict()})

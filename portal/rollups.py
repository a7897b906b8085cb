"""Dashboard rollups: small summary tables for the numbers that would otherwise scan a year of data.

- ``ViolationCell``: violations per month, department (the employee's current one), rule category and
  status, with the fines and performance points of their active sanctions. The month's tiles, the
  12-month trend and the sub-department breakdown read a few thousand cells instead of ~1,000,000
  violations and their sanctions.
- ``GroupMonthCell``: standing violations per group and month (the "worst groups" list).
- ``LadderStanding``: per active employee, active warnings and demerits within the ladder window —
  "people at risk" compares them with the current ladder settings at read time.

They are kept current after every committed change of a violation, sanction or employee: signals
collect the touched (department, month), (group, month) and employee keys, and
``transaction.on_commit`` hands them to ``refresh_rollups_task`` once per transaction. They are rebuilt
in full nightly (the ladder window slides; bulk writes send no signals) and by
``manage.py refresh_dashboard``. Lists behind the numbers (the admin) are always live.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Iterable
from decimal import Decimal

from celery import shared_task
from django.db import models, transaction
from django.db.models import Count, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Mod, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.scoping import scope_for

logger = logging.getLogger(__name__)


class ViolationCellQuerySet(models.QuerySet):
    def visible_to(self, user) -> ViolationCellQuerySet:
        scope = scope_for(user)
        return self.all() if scope.everything else self.filter(department_id__in=scope.dept_ids)


class ViolationCell(models.Model):
    """Violations of one month (company time zone), department, rule category and status."""

    month = models.DateField(_("月份"))
    department = models.ForeignKey(
        "groups.Department", verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(_("条款类别"), max_length=20)
    status = models.CharField(_("状态"), max_length=12)
    count = models.PositiveIntegerField(_("违规数"))
    fines = models.DecimalField(_("罚款(元)"), max_digits=14, decimal_places=2, default=Decimal("0"))
    points = models.PositiveIntegerField(_("扣绩效分"), default=0)

    objects = ViolationCellQuerySet.as_manager()

    class Meta:
        verbose_name = _("违规月度汇总")
        verbose_name_plural = _("违规月度汇总")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "department", "category", "status"], name="violationcell_one_per_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.department_id} {self.category} {self.status}: {self.count}"


class GroupMonthCellQuerySet(models.QuerySet):
    def visible_to(self, user) -> GroupMonthCellQuerySet:
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(Q(group__department_id__in=scope.dept_ids) | Q(group_id__in=scope.group_ids))


class GroupMonthCell(models.Model):
    """Standing violations recorded in one group in one month."""

    month = models.DateField(_("月份"))
    group = models.ForeignKey("groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(_("违规数"))

    objects = GroupMonthCellQuerySet.as_manager()

    class Meta:
        verbose_name = _("群月度违规汇总")
        verbose_name_plural = _("群月度违规汇总")
        constraints = [models.UniqueConstraint(fields=["month", "group"], name="groupmonthcell_one_per_cell")]
        indexes = [models.Index(fields=["month", "-count"], name="groupmonthcell_month_count")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.group_id}: {self.count}"


class LadderStandingQuerySet(models.QuerySet):
    def visible_to(self, user) -> LadderStandingQuerySet:
        """HR and auditors: all; department heads: their subtrees (a dashboard number, heads' only)."""
        scope = scope_for(user)
        return self.all() if scope.everything else self.filter(department_id__in=scope.dept_ids)

    def at_risk(self, warnings_per_demerit: int, demerits_for_dismissal: int) -> LadderStandingQuerySet:
        """One warning short of a demerit, or one demerit short of a dismissal recommendation, for the
        ladder settings given (compared at read time, so a change of the counts needs no refresh)."""
        return self.annotate(
            near_demerit=ExpressionWrapper(
                Q(warnings__gt=0) & Q(w_left=warnings_per_demerit - 1), output_field=models.BooleanField()
            ),
            near_dismissal=ExpressionWrapper(
                Q(demerits__gt=0) & Q(d_left=demerits_for_dismissal - 1), output_field=models.BooleanField()
            ),
        ).filter(Q(near_demerit=True) | Q(near_dismissal=True))

    def with_remainders(self, warnings_per_demerit: int, demerits_for_dismissal: int) -> LadderStandingQuerySet:
        return self.annotate(
            w_left=Mod(F("warnings"), warnings_per_demerit), d_left=Mod(F("demerits"), demerits_for_dismissal)
        )


class LadderStanding(models.Model):
    """Where one active employee stands on the escalation ladder (rows only for those with any count).

    ``warnings``: active direct warnings, ``demerits``: active demerits (direct and derived), both
    counted over the company's window ending at ``refreshed_at``. Whether one more warning makes a
    demerit (or one more demerit a dismissal recommendation) is decided when reading
    (``LadderStandingQuerySet.at_risk``) with the current ladder settings.
    """

    employee = models.OneToOneField(
        "groups.Employee",
        verbose_name=_("员工"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="ladder_standing",
    )
    department = models.ForeignKey(
        "groups.Department", verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+"
    )
    warnings = models.PositiveIntegerField(_("警告"), default=0)
    demerits = models.PositiveIntegerField(_("记过"), default=0)
    refreshed_at = models.DateTimeField(_("统计时间"))

    objects = LadderStandingQuerySet.as_manager()

    class Meta:
        verbose_name = _("升级阶梯状态")
        verbose_name_plural = _("升级阶梯状态")

    def __str__(self) -> str:
        return f"{self.employee_id}: {self.warnings}/{self.demerits}"


# --- refresh services --------------------------------------------------------------------------------


Key = tuple[int, "datetime.date | None"]  # (department or group id, month); month None = all months


def month_start(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date().replace(day=1)


def _as_date(value) -> datetime.date:
    return timezone.localtime(value).date() if isinstance(value, datetime.datetime) else value


def _keys_q(keys: Iterable[Key], field: str, time_field: str) -> Q:
    from violations.querysets import month_bounds

    query = Q(pk__in=[])
    for key_id, month in keys:
        part = Q(**{field: key_id})
        if month is not None:
            start, end = month_bounds(month)
            part &= Q(**{f"{time_field}__gte": start, f"{time_field}__lt": end})
        query |= part
    return query


def _cells_q(keys: Iterable[Key], field: str) -> Q:
    query = Q(pk__in=[])
    for key_id, month in keys:
        query |= Q(**{field: key_id}) if month is None else Q(**{field: key_id, "month": month})
    return query


@transaction.atomic
def refresh_violation_cells(*, keys: Iterable[Key] | None = None) -> int:
    """Recompute the cells of these (department, month) keys (all cells when None). Returns cells written."""
    from violations.models import Sanction, Violation

    cells, violations, sanctions = ViolationCell.objects.all(), Violation.objects.all(), Sanction.objects.active()
    if keys is not None:
        keys = set(keys)
        cells = cells.filter(_cells_q(keys, "department_id"))
        violations = violations.filter(_keys_q(keys, "employee__department_id", "occurred_at"))
        sanctions = sanctions.filter(_keys_q(keys, "violation__employee__department_id", "violation__occurred_at"))
    cells.delete()
    tz = timezone.get_current_timezone()
    counted = (
        violations.annotate(m=TruncMonth("occurred_at", tzinfo=tz))
        .values("m", "employee__department_id", "rule__category", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    money = (
        sanctions.annotate(m=TruncMonth("violation__occurred_at", tzinfo=tz))
        .values("m", "violation__employee__department_id", "violation__rule__category", "violation__status")
        .annotate(fines=Sum("amount", filter=Q(kind="fine")), points=Sum("points"))
        .order_by()
    )
    sums = {
        (_as_date(r["m"]), r["violation__employee__department_id"], r["violation__rule__category"],
         r["violation__status"]): r
        for r in money
    }  # fmt: skip
    rows = []
    for r in counted:
        key = (_as_date(r["m"]), r["employee__department_id"], r["rule__category"], r["status"])
        extra = sums.get(key, {})
        rows.append(
            ViolationCell(month=key[0], department_id=key[1], category=key[2], status=key[3], count=r["n"],
                          fines=extra.get("fines") or Decimal("0"), points=extra.get("points") or 0)
        )  # fmt: skip
    return len(ViolationCell.objects.bulk_create(rows, batch_size=2000))


@transaction.atomic
def refresh_group_cells(*, keys: Iterable[Key] | None = None) -> int:
    """Recompute the (group, month) cells of these keys (all when None). Returns cells written."""
    from violations.models import Violation

    cells, violations = GroupMonthCell.objects.all(), Violation.objects.standing().filter(group__isnull=False)
    if keys is not None:
        keys = set(keys)
        cells = cells.filter(_cells_q(keys, "group_id"))
        violations = violations.filter(_keys_q(keys, "group_id", "occurred_at"))
    cells.delete()
    counted = (
        violations.annotate(m=TruncMonth("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("m", "group_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows = [GroupMonthCell(month=_as_date(r["m"]), group_id=r["group_id"], count=r["n"]) for r in counted]
    return len(GroupMonthCell.objects.bulk_create(rows, batch_size=2000))


@transaction.atomic
def refresh_ladder(*, employee_ids: Iterable[int] | None = None, now: datetime.datetime | None = None) -> int:
    """Recompute the ladder standings of ``employee_ids`` (all when None). Returns the rows written."""
    from violations.choices import SanctionKind
    from violations.escalation import months_before
    from violations.models import CompanySettings, Sanction

    now = now or timezone.now()
    ladder = CompanySettings.load()
    since = months_before(timezone.localtime(now), ladder.window_months)
    standings = LadderStanding.objects.all()
    rows = Sanction.objects.active().filter(
        kind__in=[SanctionKind.WARNING, SanctionKind.DEMERIT],
        violation__occurred_at__gt=since,
        employee__status="active",
    )
    if employee_ids is not None:
        employee_ids = set(employee_ids)
        standings = standings.filter(employee_id__in=employee_ids)
        rows = rows.filter(employee_id__in=employee_ids)
    standings.delete()
    grouped = (
        rows.values("employee_id", "employee__department_id")
        .annotate(
            w=Count("pk", filter=Q(kind=SanctionKind.WARNING, is_derived=False)),
            d=Count("pk", filter=Q(kind=SanctionKind.DEMERIT)),
        )
        .order_by()
    )
    rows = [
        LadderStanding(employee_id=r["employee_id"], department_id=r["employee__department_id"], warnings=r["w"],
                       demerits=r["d"], refreshed_at=now)
        for r in grouped
    ]  # fmt: skip
    return len(LadderStanding.objects.bulk_create(rows, batch_size=2000))


def refresh_all(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Rebuild every rollup from scratch (nightly, and after bulk writes)."""
    return {
        "violation_cells": refresh_violation_cells(),
        "group_cells": refresh_group_cells(),
        "ladder_standings": refresh_ladder(now=now),
    }


def _decode(keys: list | None) -> list[Key]:
    return [(k, datetime.date.fromisoformat(m) if m else None) for k, m in keys or []]


FULL_REFRESH_TIME_LIMIT = 1900


@shared_task(bind=True, acks_late=True, soft_time_limit=1800, time_limit=FULL_REFRESH_TIME_LIMIT)
def refresh_rollups_task(
    self, employee_ids: list[int] | None = None, departments: list | None = None, groups: list | None = None
) -> dict:
    """Refresh the rollups for the given keys ([id, "YYYY-MM-01" or None] pairs); with none, rebuild all
    (nightly beat ``refresh-dashboard-rollups``), under a lock so that two full rebuilds never overlap.

    Idempotent: each refresh deletes and recomputes its cells in one transaction.
    """
    if employee_ids is None and departments is None and groups is None:
        from portal.locks import task_lock

        with task_lock(self, "refresh-dashboard-rollups"):
            return refresh_all()
    return {
        "violation_cells": refresh_violation_cells(keys=_decode(departments)),
        "group_cells": refresh_group_cells(keys=_decode(groups)),
        "ladder_standings": refresh_ladder(employee_ids=employee_ids or []),
    }


# --- keeping them current: signals → one task per transaction ------------------------------------------

_pending = threading.local()


def _enqueue(state: dict | None) -> None:
    args = (
        (
            sorted(state["employees"]),
            sorted([k, m.isoformat() if m else None] for k, m in state["departments"]),
            sorted([k, m.isoformat() if m else None] for k, m in state["groups"]),
        )
        if state
        else ()
    )
    from . import outbox

    try:
        if not outbox.broker_available():  # checked first: a dead Redis held delay() for ~20 s
            raise ConnectionError("broker unavailable")
        refresh_rollups_task.delay(*args)
    except Exception:  # broker down: refresh here rather than lose it (the nightly run would repair it)
        logger.warning("refresh_rollups_task could not be queued; refreshing inline", exc_info=True)
        refresh_rollups_task(*args)


def _flush() -> None:
    state, _pending.state = getattr(_pending, "state", None), None
    if state and any(state.values()):
        _enqueue(state)


def queue_refresh(*, employees: Iterable[int] = (), departments: Iterable[Key] = (), groups: Iterable[Key] = ()):
    """Refresh these employees' standings and these cells once the current transaction commits."""
    connection = transaction.get_connection()
    state = getattr(_pending, "state", None)
    scheduled = connection.in_atomic_block and any(func is _flush for _, func, *_ in connection.run_on_commit)
    if state is None or not scheduled:
        state = _pending.state = {"employees": set(), "departments": set(), "groups": set()}
        scheduled = False
    state["employees"].update(i for i in employees if i)
    state["departments"].update(k for k in departments if k[0])
    state["groups"].update(k for k in groups if k[0])
    if not scheduled:
        transaction.on_commit(_flush)


def _violation_keys(violation_id: int | None = None, *, instance=None) -> tuple[int, Key, Key] | None:
    """(employee, (department, month), (group, month)) of a violation as stored now."""
    from violations.models import Violation

    if instance is None:
        row = (
            Violation.objects.filter(pk=violation_id)
            .values_list("employee_id", "employee__department_id", "occurred_at", "group_id")
            .first()
        )
        if row is None:
            return None
        employee, department, occurred, group = row
    else:
        employee, occurred, group = instance.employee_id, instance.occurred_at, instance.group_id
        from groups.models import Employee

        department = Employee.objects.filter(pk=employee).values_list("department_id", flat=True).first()
    month = month_start(occurred)
    return employee, (department, month), (group, month)


def _violation_before_save(sender, instance, **kwargs) -> None:
    instance._rollup_old_keys = _violation_keys(instance.pk) if instance.pk else None


def _violation_changed(sender, instance, **kwargs) -> None:
    for keys in (getattr(instance, "_rollup_old_keys", None), _violation_keys(instance=instance)):
        if keys:
            queue_refresh(employees=[keys[0]], departments=[keys[1]], groups=[keys[2]])


def _sanction_changed(sender, instance, **kwargs) -> None:
    keys = _violation_keys(instance.violation_id)
    queue_refresh(employees=[instance.employee_id], departments=[keys[1]] if keys else [])


def _employee_before_save(sender, instance, **kwargs) -> None:
    if instance.pk:
        instance._rollup_old = sender.objects.filter(pk=instance.pk).values_list("department_id", "status").first()


def _employee_changed(sender, instance, **kwargs) -> None:
    old = getattr(instance, "_rollup_old", None)
    if old is None:
        return
    old_department, old_status = old
    if old_department != instance.department_id:
        # Their violations move to the new department's cells: both departments, every month.
        queue_refresh(employees=[instance.pk], departments=[(old_department, None), (instance.department_id, None)])
    elif old_status != instance.status:
        queue_refresh(employees=[instance.pk])  # departed staff leave the at-risk list


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save, pre_save

    from groups.models import Employee
    from violations.models import Sanction, Violation

    pre_save.connect(_violation_before_save, sender=Violation, dispatch_uid="qungui_rollup_violation_pre")
    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(_violation_changed, sender=Violation, dispatch_uid=f"qungui_rollup_violation_{name}")
        signal.connect(_sanction_changed, sender=Sanction, dispatch_uid=f"qungui_rollup_sanction_{name}")
    pre_save.connect(_employee_before_save, sender=Employee, dispatch_uid="qungui_rollup_e_pre")
    post_save.connect(_employee_changed, sender=Employee, dispatch_uid="qungui_rollup_e_post")

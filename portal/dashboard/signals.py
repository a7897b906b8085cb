"""Keeping the rollups current: model signals collect the touched keys, one task per transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.db import transaction

from portal import outbox
from portal.months import month_start

from .rollups import Key
from .tasks import refresh_rollups_task

logger = logging.getLogger(__name__)

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
    kwargs = {}
    if state and state["all_rosters"]:
        kwargs["all_rosters"] = True
    elif state and state["rosters"]:
        kwargs["roster_groups"] = sorted(state["rosters"])
    try:
        if not outbox.broker_available():  # checked first: a dead Redis held delay() for ~20 s
            raise ConnectionError("broker unavailable")
        refresh_rollups_task.delay(*args, **kwargs)
    except Exception:  # broker down: refresh here rather than lose it (the nightly run would repair it)
        logger.warning("refresh_rollups_task could not be queued; refreshing inline", exc_info=True)
        refresh_rollups_task(*args, **kwargs)


def _flush() -> None:
    state, _pending.state = getattr(_pending, "state", None), None
    if state and any(state.values()):
        _enqueue(state)


def queue_refresh(
    *,
    employees: Iterable[int] = (),
    departments: Iterable[Key] = (),
    groups: Iterable[Key] = (),
    rosters: Iterable[int] | None = (),
):
    """Refresh these employees' standings and these cells once the current transaction commits
    (``rosters``: groups whose membership and finding cells to recompute; None: every group's)."""
    connection = transaction.get_connection()
    state = getattr(_pending, "state", None)
    scheduled = connection.in_atomic_block and any(func is _flush for _, func, *_ in connection.run_on_commit)
    if state is None or not scheduled:
        state = _pending.state = {
            "employees": set(),
            "departments": set(),
            "groups": set(),
            "rosters": set(),
            "all_rosters": False,
        }
        scheduled = False
    state["employees"].update(i for i in employees if i)
    state["departments"].update(k for k in departments if k[0])
    state["groups"].update(k for k in groups if k[0])
    if rosters is None:
        state["all_rosters"] = True
    else:
        state["rosters"].update(i for i in rosters if i)
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
    if old_status != instance.status:  # their groups' departed members change
        queue_refresh(rosters=_open_groups_of(instance.pk))


def _open_groups_of(employee_id: int) -> list[int]:
    from groups.models import Membership

    return list(Membership.objects.open().filter(employee_id=employee_id).values_list("group_id", flat=True))


def _group_rows_changed(sender, instance, **kwargs) -> None:
    """A membership or finding saved or deleted: its group's cells (neither moves between groups)."""
    queue_refresh(rosters=[instance.group_id])


def _group_changed(sender, instance, created=False, **kwargs) -> None:
    """A new group gets its (empty) cell; admitting outsiders changes who counts as one."""
    queue_refresh(rosters=[instance.pk])


def _rosters_changed(sender, group_ids=None, **kwargs) -> None:
    """A reconciliation run or a roster import wrote in bulk (``groups.signals.rosters_changed``)."""
    queue_refresh(rosters=None if group_ids is None else group_ids)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save, pre_save

    from groups.models import ChatGroup, Employee, Membership, RosterFinding
    from groups.signals import rosters_changed
    from violations.models import Sanction, Violation

    pre_save.connect(_violation_before_save, sender=Violation, dispatch_uid="qungui_rollup_violation_pre")
    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(_violation_changed, sender=Violation, dispatch_uid=f"qungui_rollup_violation_{name}")
        signal.connect(_sanction_changed, sender=Sanction, dispatch_uid=f"qungui_rollup_sanction_{name}")
    pre_save.connect(_employee_before_save, sender=Employee, dispatch_uid="qungui_rollup_e_pre")
    post_save.connect(_employee_changed, sender=Employee, dispatch_uid="qungui_rollup_e_post")
    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(_group_rows_changed, sender=Membership, dispatch_uid=f"qungui_rollup_m_{name}")
        signal.connect(_group_rows_changed, sender=RosterFinding, dispatch_uid=f"qungui_rollup_f_{name}")
    post_save.connect(_group_changed, sender=ChatGroup, dispatch_uid="qungui_rollup_g_post")
    rosters_changed.connect(_rosters_changed, dispatch_uid="qungui_rollup_rosters")

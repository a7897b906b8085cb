"""Celery task of the dashboard: refresh the rollups (keys from a transaction, or all nightly)."""

from __future__ import annotations

import datetime

from celery import shared_task

from portal.locks import task_lock

from .rollups import (
    Key,
    refresh_all,
    refresh_group_cells,
    refresh_ladder,
    refresh_roster_cells,
    refresh_violation_cells,
)


def _decode(keys: list | None) -> list[Key]:
    return [(k, datetime.date.fromisoformat(m) if m else None) for k, m in keys or []]


FULL_REFRESH_TIME_LIMIT = 1900


# The name it had before the dashboard became its own app: queued messages and beat keep working.
@shared_task(
    name="portal.rollups.refresh_rollups_task",
    bind=True,
    acks_late=True,
    soft_time_limit=1800,
    time_limit=FULL_REFRESH_TIME_LIMIT,
)
def refresh_rollups_task(
    self,
    employee_ids: list[int] | None = None,
    departments: list | None = None,
    groups: list | None = None,
    roster_groups: list[int] | None = None,
    all_rosters: bool = False,
) -> dict:
    """Refresh the rollups for the given keys ([id, "YYYY-MM-01" or None] pairs; ``roster_groups``:
    the groups whose membership and finding cells to recompute, ``all_rosters``: every group's); with
    none, rebuild all (nightly beat ``refresh-dashboard-rollups``), under a lock so that two full
    rebuilds never overlap.

    Idempotent: each refresh deletes and recomputes its cells in one transaction.
    """
    if employee_ids is None and departments is None and groups is None and roster_groups is None and not all_rosters:
        with task_lock(self, "refresh-dashboard-rollups"):
            return refresh_all()
    result = {}
    if departments:
        result["violation_cells"] = refresh_violation_cells(keys=_decode(departments))
    if groups:
        result["group_cells"] = refresh_group_cells(keys=_decode(groups))
    if employee_ids:
        result["ladder_standings"] = refresh_ladder(employee_ids=employee_ids)
    if all_rosters or roster_groups:
        result["roster_cells"] = refresh_roster_cells(group_ids=None if all_rosters else roster_groups)
    return result

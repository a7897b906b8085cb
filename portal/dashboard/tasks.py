"""Celery task of the dashboard: refresh the rollups (keys from a transaction, or all nightly)."""

from __future__ import annotations

import datetime

from celery import shared_task

from portal.locks import task_lock

from .rollups import Key, refresh_all, refresh_group_cells, refresh_ladder, refresh_violation_cells


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
    self, employee_ids: list[int] | None = None, departments: list | None = None, groups: list | None = None
) -> dict:
    """Refresh the rollups for the given keys ([id, "YYYY-MM-01" or None] pairs); with none, rebuild all
    (nightly beat ``refresh-dashboard-rollups``), under a lock so that two full rebuilds never overlap.

    Idempotent: each refresh deletes and recomputes its cells in one transaction.
    """
    if employee_ids is None and departments is None and groups is None:
        with task_lock(self, "refresh-dashboard-rollups"):
            return refresh_all()
    return {
        "violation_cells": refresh_violation_cells(keys=_decode(departments)),
        "group_cells": refresh_group_cells(keys=_decode(groups)),
        "ladder_standings": refresh_ladder(employee_ids=employee_ids or []),
    }

"""Signals the organisation sends for its bulk writes (which send no model signals).

``rosters_changed``: memberships, roster findings or employees' status changed in bulk — after an
import is written and when a reconciliation run finishes. ``group_ids``: the groups touched, or
``None`` for any group. Sent inside the writer's transaction; listeners defer their work to the
commit (the dashboard's rollups listen; groups imports nothing above it).
"""

from __future__ import annotations

from django.dispatch import Signal

rosters_changed = Signal()


def send_rosters_changed(group_ids: list[int] | None = None) -> None:
    rosters_changed.send(sender=None, group_ids=group_ids)

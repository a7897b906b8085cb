"""Signals the organisation sends for its bulk writes (which send no model signals).

``rosters_changed``: memberships, roster findings or employees' status changed in bulk — after an
import is written and when a reconciliation run finishes. ``group_ids``: the groups touched, or
``None`` for any group. Sent inside the writer's transaction; listeners defer their work to the
commit (the dashboard's rollups listen; groups imports nothing above it).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

rosters_changed = Signal()

# ``chat_imported``: a chat import was written (``import_id``, ``group_id``). Sent after the write's
# transaction commits, so listeners read the messages (chat detection listens; groups knows nothing of it).
chat_imported = Signal()


# ``chat_bodies_purged``: the retention purge ran (``cutoff``: messages sent before it lost their bodies;
# ``now``). Sent after its batches committed, every day, whether or not a row was due (the detections'
# excerpts of messages before the cutoff follow; groups knows nothing of them).
chat_bodies_purged = Signal()


def send_rosters_changed(group_ids: list[int] | None = None) -> None:
    rosters_changed.send(sender=None, group_ids=group_ids)


def send_chat_imported(import_id: int, group_id: int) -> None:
    """Tell the listeners once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: chat_imported.send(sender=None, import_id=import_id, group_id=group_id))

"""Message bodies are personal data: purged after the HR-set retention, the rows kept.

``RosterSettings.chat_retention_days`` (default 180, HR edits it in 核查设置) decides; the daily beat
task ``groups.tasks.purge_chat_bodies_task`` calls ``purge_chat_bodies``. The text, the link and the
extra fields (a red packet's wish, a profile nickname) go; time, sender, kind, mentions and the recall
facts stay for the counts. Purged in id batches so that one run never holds a long lock. Then
``groups.signals.chat_bodies_purged`` lets the detections' excerpts follow (violations listens).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from portal.audit import log_summary

from ..models import RosterSettings
from .models import ChatMessage

BATCH = 5000


def retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=RosterSettings.load().chat_retention_days)


def purge_chat_bodies(*, now: datetime | None = None, acting_user=None) -> int:
    """Purge the bodies of messages sent before the retention cutoff. Returns how many rows."""
    now = now or timezone.now()
    cutoff = retention_cutoff(now)
    due = ChatMessage.objects.filter(sent_at__lt=cutoff, purged_at__isnull=True)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(due.order_by("pk").values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            total += ChatMessage.objects.filter(pk__in=ids).update(
                text=None, link_url=None, link_title=None, extra={}, purged_at=now
            )
    from ..signals import chat_bodies_purged

    chat_bodies_purged.send(sender=None, cutoff=cutoff, now=now, acting_user=acting_user)
    if total:
        log_summary(
            ChatMessage,
            label="聊天消息内容清除",
            changes={"purged": [str(total), cutoff.isoformat()]},
            data={"purged": total, "cutoff": cutoff.isoformat()},
            actor=acting_user,
        )
    return total

"""What the detectors share: the window's messages as a queryset, a message's stable key, a hit.

No ``DETECTOR`` here (``all_detectors`` passes this module by). Everything stays a queryset until a
detector iterates it, in chunks: the rows read are the hits, never the whole window.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet

from groups.choices import MessageKind
from groups.models import ChatMessage

from .base import Hit, Window

CHUNK = 2000
# What a hit needs of its triggering message.
FIELDS = ("pk", "group_id", "platform", "natural_key", "sender_platform_id", "employee_id", "sent_at")
# Lines nobody sent as a message: system notices (joins, leaves) and the recall events themselves.
NOT_SENT = (MessageKind.SYSTEM, MessageKind.RECALL)


def messages(window: Window, *, before: datetime.timedelta | None = None) -> QuerySet[ChatMessage]:
    """The window's messages; ``before`` reaches further back (context a detector needs)."""
    qs = ChatMessage.objects.order_by()
    if window.group_ids is not None:
        qs = qs.filter(group_id__in=window.group_ids)
    if window.since is not None:
        qs = qs.filter(sent_at__gte=window.since - (before or datetime.timedelta(0)))
    if window.until is not None:
        qs = qs.filter(sent_at__lt=window.until)
    return qs


def sent(window: Window, **kwargs) -> QuerySet[ChatMessage]:
    """Messages somebody sent (with a sender id), recalled ones included: the sending happened."""
    return messages(window, **kwargs).exclude(kind__in=NOT_SENT).exclude(sender_platform_id="")


def readable_text() -> Q:
    """A text a text-based rule may read: not recalled (a recall hides it from detection), not purged."""
    return Q(recalled=False, text__isnull=False)


def message_key(group_id: int, platform: str, natural_key: str) -> str:
    """A message's identity across imports: unique per group and platform (the store's natural key)."""
    return f"{group_id}:{platform}:{natural_key}"


def rows(qs: QuerySet, *extra: str) -> Iterator[dict[str, Any]]:
    return qs.values(*FIELDS, *extra).iterator(chunk_size=CHUNK)


def hit(
    row: dict[str, Any],
    detector: str,
    rule_code: str,
    reason: str,
    *,
    details: dict[str, Any] | None = None,
    message_ids: tuple[int, ...] | None = None,
    key: str | None = None,
) -> Hit:
    """The hit of ``row`` (a ``rows()`` dict): the triggering message is the row unless told."""
    return Hit(
        detector=detector,
        rule_code=rule_code,
        key=key or message_key(row["group_id"], row["platform"], row["natural_key"]),
        group_id=row["group_id"],
        occurred_at=row["sent_at"],
        reason=str(reason),
        message_ids=message_ids or (row["pk"],),
        employee_id=row["employee_id"],
        sender_platform_id=row["sender_platform_id"],
        details=details or {},
    )

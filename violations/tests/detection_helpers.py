"""Hand-built message sequences for the detector tests: one ChatMessage per call, in a group."""

from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

from groups.models import ChatMessage
from violations.detection.base import Window, hits

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
_seq = itertools.count(1)


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def msg(group, sender: str, sent_at: datetime.datetime, *, kind: str = "text", text: str | None = "好的",
        employee=None, recalled: bool = False, name: str = "", **extra) -> ChatMessage:  # fmt: skip
    return ChatMessage.objects.create(
        group=group,
        platform=group.platform,
        natural_key=f"k{next(_seq)}",
        sender_platform_id=sender,
        sender_name=name or sender,
        employee=employee,
        sent_at=sent_at,
        kind=kind,
        text=text,
        recalled=recalled,
        recalled_at=sent_at + datetime.timedelta(seconds=10) if recalled else None,
        **extra,
    )


def window(since=None, until=None, groups=None) -> Window:
    return Window(since=since, until=until, now=timezone.now(), group_ids=tuple(groups) if groups else None)


def found(detector, win: Window | None = None) -> list:
    return sorted(hits(detector, win or window()), key=lambda h: (h.occurred_at, h.key))


def ids(hits) -> list[int]:
    """The triggering message of each hit."""
    return [h.message_ids[0] for h in hits]

"""C10 恶意刷屏、过多图片: more than N messages (``flood_max_messages``, default 10), or more than N
images (``flood_max_images``, default 5), from one sender in one group within M seconds
(``flood_window_seconds``, default 60).

Set-based with a window function: a message is *in a flood* when the N-th message before it from
the same sender in the same group (``LAG(sent_at, N)``) was sent at most M seconds earlier — then
N + 1 messages lie within M seconds. Only those rows leave the database. They are gathered into
bursts: flooding messages of one sender no more than M seconds apart are one burst, one hit, keyed
by the burst's first message (the message N before its first flooding one), so a rerun finds the
same key; it happened when the limit was crossed (the first flooding message).

Windows: a burst belongs to the window its first flooding message lies in. The window reads 2·M
seconds before its start, so that a message in the M seconds before the start is known to flood or
not (its N predecessors lie within M before it): a burst going on across the start is seen to have
begun earlier and is left to the window before. A flood already stored as a suspicion (any status:
a dismissed one stays dismissed) is not suspected again under another key when messages imported
later move its first message (an earlier export of the same chat): a burst that overlaps a stored
one of the same sender, group and kind, within M seconds, is the same flood.

The rule is about sending: recalled messages count; system lines and recall events do not. Images
count twice: in the message count and, separately, in the image count (two detections at most for
one burst: ``messages`` and ``images``).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from typing import Any

from django.db.models import F, Q, Window
from django.db.models.functions import Lag
from django.utils.translation import gettext as _

from groups.choices import MessageKind

from ..models import CompanySettings, Detection
from .base import Detector, Hit
from .base import Window as DetectionWindow
from .window_messages import CHUNK, hit, message_key, rows, sent

NAME = "flooding"
RULE = "C10"
STORED_LOOKBACK = datetime.timedelta(days=1)  # no flood lasts longer
EVIDENCE = 50  # a long burst's evidence: its first and its last messages


def _flooding_rows(window: DetectionWindow, limit: int, seconds: int, *, images: bool) -> Iterator[dict[str, Any]]:
    span = datetime.timedelta(seconds=seconds)
    qs = sent(window, before=2 * span)  # the module doc: the M seconds before the start, and theirs
    if images:
        qs = qs.filter(kind=MessageKind.IMAGE)
    order = [F("sent_at").asc(), F("pk").asc()]
    partition = [F("group_id"), F("sender_platform_id")]
    qs = qs.annotate(
        back_at=Window(Lag("sent_at", offset=limit), partition_by=partition, order_by=order),
        back_id=Window(Lag("pk", offset=limit), partition_by=partition, order_by=order),
        back_key=Window(Lag("natural_key", offset=limit), partition_by=partition, order_by=order),
    )
    qs = qs.filter(back_at__isnull=False, back_at__gte=F("sent_at") - span)
    return rows(qs.order_by("group_id", "sender_platform_id", "sent_at", "pk"), "back_at", "back_id", "back_key")


def _bursts(found: Iterator[dict[str, Any]], seconds: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(the first flooding row, every flooding row) per burst; rows arrive by sender, then time."""
    span = datetime.timedelta(seconds=seconds)
    current: list[dict[str, Any]] = []
    for row in found:
        if current:
            last = current[-1]
            same = last["group_id"] == row["group_id"] and last["sender_platform_id"] == row["sender_platform_id"]
            if same and row["sent_at"] - last["sent_at"] <= span:
                current.append(row)
                continue
            yield current[0], current
        current = [row]
    if current:
        yield current[0], current


SPANS_PER_QUERY = 200


def _members(window: DetectionWindow, bursts: list[tuple[dict[str, Any], list[dict[str, Any]]]], *, images: bool):
    """Per burst (by index), the ids of every message it spans, in time order: from the message N
    before its first flooding one to its last, by its sender — those between two flooding runs
    (not flooding on their own) included. A few queries for all the window's bursts, not one each."""
    wanted: dict[tuple[int, str], list[tuple[datetime.datetime, datetime.datetime, int]]] = {}
    for index, (first, burst) in enumerate(bursts):
        wanted.setdefault((first["group_id"], first["sender_platform_id"]), []).append(
            (first["back_at"], burst[-1]["sent_at"], index)
        )
    spans = [(g, s, lo, hi) for (g, s), ranges in wanted.items() for lo, hi, _i in ranges]
    base = sent(DetectionWindow(since=None, until=None, now=window.now))
    if images:
        base = base.filter(kind=MessageKind.IMAGE)
    out: dict[int, list[int]] = {index: [] for index in range(len(bursts))}
    for start in range(0, len(spans), SPANS_PER_QUERY):
        where = Q(pk__in=[])
        for group_id, sender, lo, hi in spans[start : start + SPANS_PER_QUERY]:
            where |= Q(group_id=group_id, sender_platform_id=sender, sent_at__gte=lo, sent_at__lte=hi)
        found = (
            base.filter(where).order_by("sent_at", "pk").values_list("group_id", "sender_platform_id", "sent_at", "pk")
        )
        for group_id, sender, sent_at, pk in found.iterator(chunk_size=CHUNK):
            for lo, hi, index in wanted[(group_id, sender)]:
                if lo <= sent_at <= hi:
                    out[index].append(pk)
    return out


def _stored(groups: set[int], since: datetime.datetime, until: datetime.datetime | None) -> dict[tuple, list[tuple]]:
    """(group, sender, kind) → the (start, end, key) of the floods stored as detections of these
    groups in that time (the ``(group, occurred_at)`` index)."""
    qs = Detection.objects.filter(detector=NAME, group_id__in=groups, occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lte=until)
    out: dict[tuple, list[tuple]] = {}
    for group_id, sender, key, details in qs.values_list("group_id", "sender_platform_id", "key", "details").iterator():
        try:
            end = datetime.datetime.fromisoformat(details["last_at"])
            start = end - datetime.timedelta(seconds=float(details["duration_seconds"]))
        except (KeyError, TypeError, ValueError):
            continue
        out.setdefault((group_id, sender, details.get("kind")), []).append((start, end, key))
    return out


def _hits(window: DetectionWindow, limit: int, seconds: int, *, images: bool) -> Iterator[Hit]:
    what = "images" if images else "messages"
    span = datetime.timedelta(seconds=seconds)
    bursts = []
    for first, burst in _bursts(_flooding_rows(window, limit, seconds, images=images), seconds):
        if window.since is not None and first["sent_at"] < window.since:
            continue  # begun before the window: the window before has it
        bursts.append((first, burst))
    if not bursts:
        return
    earliest = min(first["back_at"] for first, _burst in bursts)
    latest = max(burst[-1]["sent_at"] for _first, burst in bursts)
    stored = _stored({first["group_id"] for first, _burst in bursts}, earliest - STORED_LOOKBACK, latest + span)
    spanned = _members(window, bursts, images=images)
    for index, (first, burst) in enumerate(bursts):
        # occurred_at: when the flood crossed the limit (its first flooding message), so the hit lies
        # in exactly one of two adjacent windows; the key and the evidence start at the burst's first.
        start = {**first, "pk": first["back_id"], "natural_key": first["back_key"]}
        members = spanned[index] or [first["back_id"], *(row["pk"] for row in burst)]
        count = len(members)  # every message from the N before the first flooding one to the last
        last_at = burst[-1]["sent_at"]
        key = f"{what}:" + message_key(first["group_id"], first["platform"], first["back_key"])
        floods = stored.get((first["group_id"], first["sender_platform_id"], what), ())
        # overlapping in time: an earlier export that moved a burst's first message keeps its span;
        # a flood that starts after another ended (63 s after, with M = 60) is a flood of its own
        same = [k for begin, end, k in floods if begin <= last_at and first["back_at"] <= end]
        if same and key not in same:
            continue  # the same flood, stored under the key it had then
        lasted = math.ceil((last_at - first["back_at"]).total_seconds())
        if lasted <= seconds:
            if images:
                reason = _("%(s)s 秒内连续发送 %(n)s 张图片(超过 %(limit)s 张)")
            else:
                reason = _("%(s)s 秒内连续发送 %(n)s 条消息(超过 %(limit)s 条)")
        elif images:
            reason = _("%(d)s 秒内连续发送 %(n)s 张图片(任意 %(s)s 秒内超过 %(limit)s 张)")
        else:
            reason = _("%(d)s 秒内连续发送 %(n)s 条消息(任意 %(s)s 秒内超过 %(limit)s 条)")
        reason = reason % {"s": seconds, "n": count, "limit": limit, "d": lasted}
        message_ids = tuple(members[:EVIDENCE]) + (tuple(members[-EVIDENCE:]) if len(members) > EVIDENCE else ())
        message_ids = tuple(dict.fromkeys(message_ids))
        details = {
            "kind": what,
            "count": count,
            "limit": limit,
            "seconds": seconds,
            "last_at": last_at.isoformat(),
            "duration_seconds": (last_at - first["back_at"]).total_seconds(),
        }
        yield hit(start, NAME, RULE, reason, details=details, message_ids=message_ids, key=key)


def detect(window: DetectionWindow) -> Iterator[Hit]:
    company = CompanySettings.load()
    seconds = company.flood_window_seconds
    yield from _hits(window, company.flood_max_messages, seconds, images=False)
    yield from _hits(window, company.flood_max_images, seconds, images=True)


DETECTOR = Detector(name=NAME, rule_codes=(RULE,), detect=detect, label="刷屏、过多图片")

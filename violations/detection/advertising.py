"""C06 unrelated commercial advertising, "the same ad once at most": every advertisement with its
occurrence number per sender, group and advertisement.

An advertisement is a text or link message whose text or link title matches an active C06 lexicon
word or pattern, or whose link (or a URL in its text) points to a C06 domain. Two advertisements
are *the same* when they carry the same normalised link (``text.normalise_url``: tracking
parameters dropped, scheme and host lower-cased), or, without a link, the same normalised text
(``text.normalise``: full-width, case and inserted spaces/punctuation ignored). Occurrences are
counted per sender (platform id) **within one group**: C06's sanction is removal from the group the
ad was posted in, and the same ad in two groups is two first posts. Two people posting the same text
are two senders' first occurrences.

A recalled advertisement still counts as posted (the fact stays; ``details`` record the recall
and how many seconds after posting). Occurrence 1 is a hit too (the catalog's first sanction, a
warning); occurrence 2 and later carry ``details['occurrence'] = n`` for the rule's repeat sanction.

Set-based: one streamed pass over the window (the keyword scan, shared with the keyword detector,
recalled messages included), then,
for the senders who posted an ad in the window, one query per chunk of groups for their earlier
messages (``REPEAT_LOOKBACK`` back), so a repeat is numbered after the posts before the window.
An earlier advertisement whose body the retention purge has emptied is known by its stored
detection (its fingerprint and matched words are kept in ``details``): a repeat a year on is still a
repeat, whatever the retention.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _

from groups.choices import MessageKind
from groups.models import ChatMessage

from ..models import Detection
from ..models.lexicon import AD_RULE
from .base import Detector, Hit, Window
from .keywords import COLUMNS, Matcher, lexicon_matches, load_matcher, message_matches, reason
from .text import normalise, normalise_url, urls_in

NAME = "repeated_ad"
REPEAT_LOOKBACK = datetime.timedelta(days=365)
GROUP_CHUNK = 200
EVIDENCE_EARLIER = 4  # earlier occurrences attached as evidence after the triggering message


@dataclass(frozen=True)
class Ad:
    pk: int
    group_id: int
    natural_key: str
    sent_at: datetime.datetime
    employee_id: int | None
    sender: str
    fingerprint: str
    matched: tuple[str, ...]
    recalled: bool
    recalled_at: datetime.datetime | None


def fingerprint(text: str | None, link_url: str | None, link_title: str | None) -> str:
    """The identity of an advertisement: its normalised link, else a hash of its normalised text."""
    url = link_url or next(iter(urls_in(text)), "")
    if url:
        return "url:" + normalise_url(url)
    body = normalise(f"{text or ''}{link_title or ''}")
    return "text:" + hashlib.sha1(body.encode()).hexdigest()[:20]  # noqa: S324  an identity, not security


def as_ad(row: tuple, matched: dict[str, list[str]]) -> Ad | None:
    pk, group_id, natural_key, sent_at, employee_id, sender, text, link_url, link_title, recalled, recalled_at = row
    found = matched.get(AD_RULE)
    if not found:
        return None
    key = fingerprint(text, link_url, link_title)
    sender = sender or f"#{pk}"  # an unknown sender is nobody's repeat
    return Ad(pk, group_id, natural_key, sent_at, employee_id, sender, key, tuple(found), recalled, recalled_at)


def earlier_ads(matcher: Matcher, window: Window, senders: set[tuple[int, str]]) -> Iterator[Ad]:
    """Advertisements of these (group, sender) pairs posted before the window."""
    if window.since is None or not senders:
        return
    by_group: dict[int, set[str]] = {}
    for group_id, sender in senders:
        by_group.setdefault(group_id, set()).add(sender)
    groups = sorted(by_group)
    for start in range(0, len(groups), GROUP_CHUNK):
        chunk = groups[start : start + GROUP_CHUNK]
        names = sorted(set().union(*(by_group[g] for g in chunk)))
        rows = (
            ChatMessage.objects.filter(
                kind__in=(MessageKind.TEXT, MessageKind.LINK),
                purged_at__isnull=True,
                group_id__in=chunk,
                sender_platform_id__in=names,
                sent_at__gte=window.since - REPEAT_LOOKBACK,
                sent_at__lt=window.since,
            )
            .order_by()
            .values_list(*COLUMNS)
        )
        for row in rows.iterator(chunk_size=2000):
            ad = as_ad(row, message_matches(matcher, row[6], row[7], row[8]))
            if ad is not None and (ad.group_id, ad.sender) in senders:
                yield ad
        yield from _purged_ads(window, chunk, names, senders)


def _purged_ads(window: Window, groups: list[int], names: list[str], senders: set[tuple[int, str]]) -> Iterator[Ad]:
    """The earlier advertisements of these senders whose bodies were purged, from their detections."""
    assert window.since is not None
    stored = Detection.objects.filter(
        detector=NAME,
        group_id__in=groups,
        sender_platform_id__in=names,
        occurred_at__gte=window.since - REPEAT_LOOKBACK,
        occurred_at__lt=window.since,
    ).values_list("message_ids", "group_id", "occurred_at", "employee_id", "sender_platform_id", "details")
    found = [row for row in stored if row[0] and (row[1], row[4]) in senders and row[5].get("fingerprint")]
    if not found:
        return
    purged = set(
        ChatMessage.objects.filter(pk__in=[row[0][0] for row in found], purged_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
    for message_ids, group_id, occurred_at, employee_id, sender, details in found:
        if message_ids[0] in purged:
            matched = tuple(details.get("matched") or ())
            yield Ad(
                message_ids[0], group_id, "", occurred_at, employee_id, sender, details["fingerprint"], matched,
                bool(details.get("recalled")), None,
            )  # fmt: skip


def _hit(ad: Ad, occurrence: int, earlier: list[Ad]) -> Hit:
    words = reason(list(ad.matched))
    if occurrence == 1:
        text = _("发布无关商业广告(%(words)s),同一内容首次发布") % {"words": words}
    else:
        text = _("重复发布同一广告:第%(n)s次(%(words)s),首次 %(first)s") % {
            "n": occurrence,
            "words": words,
            "first": f"{earlier[0].sent_at:%Y-%m-%d %H:%M}",
        }
    details: dict = {"occurrence": occurrence, "matched": list(ad.matched), "fingerprint": ad.fingerprint}
    if earlier:
        details["first_message_id"] = earlier[0].pk
    if ad.recalled:
        details["recalled"] = True
        if ad.recalled_at is not None:
            details["recalled_after_seconds"] = int((ad.recalled_at - ad.sent_at).total_seconds())
    previous = tuple(a.pk for a in reversed(earlier[-EVIDENCE_EARLIER:]))
    return Hit(
        detector=DETECTOR.name,
        rule_code=AD_RULE,
        key=f"{ad.group_id}:{ad.natural_key}:{AD_RULE}",
        group_id=ad.group_id,
        occurred_at=ad.sent_at,
        reason=text,
        message_ids=(ad.pk, *previous),
        employee_id=ad.employee_id,
        sender_platform_id="" if ad.sender.startswith("#") else ad.sender,
        details=details,
    )


def detect(window: Window) -> Iterator[Hit]:
    ads = [ad for row, matched in lexicon_matches(window) if (ad := as_ad(row, matched))]
    if not ads:
        return
    in_window = {ad.pk for ad in ads}
    ads.extend(earlier_ads(load_matcher([AD_RULE]), window, {(ad.group_id, ad.sender) for ad in ads}))
    series: dict[tuple[int, str, str], list[Ad]] = {}
    for ad in ads:
        series.setdefault((ad.group_id, ad.sender, ad.fingerprint), []).append(ad)
    for posts in series.values():
        posts.sort(key=lambda a: (a.sent_at, a.pk))
        for index, ad in enumerate(posts):
            if ad.pk in in_window:
                yield _hit(ad, index + 1, posts[:index])


DETECTOR = Detector(name=NAME, rule_codes=(AD_RULE,), detect=detect, label="重复广告")

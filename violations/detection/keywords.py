"""Keyword rules (C01–C05, C07, B01, B02, B04, S01–S03): a message matching an active lexicon entry.

One pass over the window's text and link messages, streamed from the database in chunks
(``.iterator(chunk_size=…)``: a server-side cursor on PostgreSQL, so memory stays flat whatever the
window). Each message is normalised once (``text.normalise``: NFKC full-width → half-width, case
folded, spaces/punctuation/symbols between characters removed) and run through one Aho–Corasick
automaton (pyahocorasick, C) holding every active word and every pattern's longest literal piece;
a pattern's bounded regex is tried only where its anchor occurs. Link domains are compared with the
hosts of the message's link and of the URLs in its text. Measured against a set-based PostgreSQL
``regexp_replace(…) ~ 'w1|w2|…'`` query in ``bench/bench_detection.py`` (docs/detection.md).

A recalled message is skipped: its text is hidden from detection (the fact of posting an
advertisement still counts, see ``advertising``). C06 entries belong to the repeated-advertisement
detector, which reports every advertisement with its occurrence number; this one leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
from django.utils.translation import gettext as _

from groups.choices import MessageKind
from groups.models import ChatMessage

from ..choices import LexiconKind
from ..models.lexicon import AD_RULE, KEYWORD_RULES, LexiconEntry, pattern_anchor, pattern_regex
from .base import Detector, Hit, Window
from .text import host_matches, normalise, url_host, urls_in

CHUNK = 5000
REASON_WORDS = 5  # the reason names at most this many matched entries per rule
COLUMNS = (
    "id", "group_id", "natural_key", "sent_at", "employee_id", "sender_platform_id",
    "text", "link_url", "link_title", "recalled", "recalled_at",
)  # fmt: skip


@dataclass
class Matcher:
    """The active lexicon of some rules, compiled: ``match(normalised text)`` → {rule: [entries]}."""

    automaton: Any = None
    domains: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.automaton is not None or bool(self.domains)

    def match(self, normal: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if self.automaton is None or not normal:
            return found
        for _end, targets in self.automaton.iter(normal):
            for code, text, regex in targets:
                if regex is not None and not regex.search(normal):
                    continue
                words = found.setdefault(code, [])
                if text not in words:
                    words.append(text)
        return found

    def match_hosts(self, hosts: Iterable[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for host in hosts:
            for code, domain in self.domains:
                if host_matches(host, domain) and domain not in found.get(code, []):
                    found.setdefault(code, []).append(domain)
        return found


def load_matcher(rule_codes: Iterable[str]) -> Matcher:
    """Compile the active entries of the active rules ``rule_codes`` (one query)."""
    automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
    keys: dict[str, list] = {}
    matcher = Matcher()
    entries = LexiconEntry.objects.active().filter(rule__code__in=list(rule_codes))
    for code, kind, text in entries.values_list("rule__code", "kind", "text").order_by("rule__code", "text"):
        if kind == LexiconKind.DOMAIN:
            matcher.domains.append((code, text))
        elif kind == LexiconKind.PATTERN:
            keys.setdefault(pattern_anchor(text), []).append((code, text, pattern_regex(text)))
        else:
            keys.setdefault(text, []).append((code, text, None))
    for key, targets in keys.items():
        automaton.add_word(key, tuple(targets))
    if keys:
        automaton.make_automaton()
        matcher.automaton = automaton
    return matcher


def window_messages(window: Window, *, include_recalled: bool) -> Iterator[tuple]:
    """The window's text and link messages with a body, as COLUMNS tuples, streamed in chunks."""
    messages = ChatMessage.objects.filter(
        kind__in=(MessageKind.TEXT, MessageKind.LINK), purged_at__isnull=True
    ).order_by()  # no ORDER BY: a sort of millions of rows buys nothing here
    if not include_recalled:
        messages = messages.filter(recalled=False)
    if window.since is not None:
        messages = messages.filter(sent_at__gte=window.since)
    if window.until is not None:
        messages = messages.filter(sent_at__lt=window.until)
    if window.group_ids is not None:
        messages = messages.filter(group_id__in=window.group_ids)
    return messages.values_list(*COLUMNS).iterator(chunk_size=CHUNK)


def message_matches(matcher: Matcher, text: str | None, link_url: str | None, link_title: str | None):
    """{rule: [matched entries]} for one message's text, link title and link/text URLs."""
    body = f"{text}\n{link_title}" if text and link_title else (text or link_title or "")
    found = matcher.match(normalise(body))
    if matcher.domains:
        hosts = [url_host(u) for u in ([link_url] if link_url else []) + urls_in(body)]
        for code, domains in matcher.match_hosts(h for h in hosts if h).items():
            found.setdefault(code, []).extend(d for d in domains if d not in found.get(code, []))
    return found


def reason(words: list[str]) -> str:
    shown = "、".join(words[:REASON_WORDS]) + ("…" if len(words) > REASON_WORDS else "")
    return _("命中词库:%(words)s") % {"words": shown}


def detect(window: Window) -> Iterator[Hit]:
    matcher = load_matcher(code for code in KEYWORD_RULES if code != AD_RULE)
    if not matcher:
        return
    for pk, group_id, natural_key, sent_at, employee_id, sender, text, link_url, link_title, _r, _ra in window_messages(
        window, include_recalled=False
    ):
        for code, words in message_matches(matcher, text, link_url, link_title).items():
            yield Hit(
                detector=DETECTOR.name,
                rule_code=code,
                key=f"{group_id}:{natural_key}:{code}",
                group_id=group_id,
                occurred_at=sent_at,
                reason=reason(words),
                message_ids=(pk,),
                employee_id=employee_id,
                sender_platform_id=sender,
                details={"matched": words},
            )


DETECTOR = Detector(name="keyword", rule_codes=KEYWORD_RULES, detect=detect, label="词库关键词")

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

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from groups.choices import MessageKind
from groups.models import ChatMessage

from ..choices import LexiconKind
from ..models.lexicon import (
    AD_RULE,
    KEYWORD_RULES,
    LEXICON_RULES,
    WILDCARD_SPAN,
    LexiconEntry,
    pattern_anchor,
    pattern_regex,
)
from .base import Detector, Hit, Window
from .text import bare_hosts, host_matches, normalise, url_host, urls_in

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
    forms: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) of the words and patterns

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
            continue
        matcher.forms.append((kind, text))
        if kind == LexiconKind.PATTERN:
            keys.setdefault(pattern_anchor(text), []).append((code, text, pattern_regex(text)))
        else:
            keys.setdefault(text, []).append((code, text, None))
    for key, targets in keys.items():
        automaton.add_word(key, tuple(targets))
    if keys:
        automaton.make_automaton()
        matcher.automaton = automaton
    return matcher


def _window_filter(messages, window: Window):
    if window.since is not None:
        messages = messages.filter(sent_at__gte=window.since)
    if window.until is not None:
        messages = messages.filter(sent_at__lt=window.until)
    if window.group_ids is not None:
        messages = messages.filter(group_id__in=window.group_ids)
    return messages


def window_messages(window: Window, *, include_recalled: bool, columns: tuple[str, ...] = COLUMNS) -> Iterator[tuple]:
    """The window's text and link messages with a body, as ``columns`` tuples, streamed in chunks."""
    messages = ChatMessage.objects.filter(
        kind__in=(MessageKind.TEXT, MessageKind.LINK), purged_at__isnull=True
    ).order_by()  # no ORDER BY: a sort of millions of rows buys nothing here
    if not include_recalled:
        messages = messages.filter(recalled=False)
    return _window_filter(messages, window).values_list(*columns).iterator(chunk_size=CHUNK)


def message_matches(matcher: Matcher, text: str | None, link_url: str | None, link_title: str | None):
    """{rule: [matched entries]} for one message's text, link title and link/text URLs. The text and
    the title are matched apart: a word is not made of the end of one and the start of the other."""
    found = matcher.match(normalise(text))
    for code, entries in matcher.match(normalise(link_title)).items():
        found.setdefault(code, []).extend(e for e in entries if e not in found.get(code, []))
    if matcher.domains:
        hosts = [url_host(u) for u in ([link_url] if link_url else []) + urls_in(text) + urls_in(link_title)]
        hosts += bare_hosts(text) + bare_hosts(link_title)
        for code, domains in matcher.match_hosts(h for h in hosts if h).items():
            found.setdefault(code, []).extend(d for d in domains if d not in found.get(code, []))
    return found


# --- one scan for both lexicon detectors -----------------------------------------------------------
# The keyword and the repeated-advertisement detectors read the same messages against the same
# lexicon; the scan is most of their cost (bench_detection.py), so within one ``shared_scan()`` —
# the runner opens one per window for all its detectors — it is done once for every lexicon rule
# and kept for the other; outside one, each call scans. Only the matching messages are kept:
# memory stays small. (It was kept for the next caller while a signature of the lexicon and of the
# window's messages was unchanged: two count queries per chunk, 2% of a month's run.)

SCAN_COLUMNS = ("id", "text", "link_url", "link_title")
_shared: ContextVar[dict[tuple, list] | None] = ContextVar("lexicon_scans", default=None)


@contextmanager
def shared_scan() -> Iterator[None]:
    """The lexicon scans made inside, one per window, reused by every lexicon detector inside."""
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def lexicon_matches(window: Window) -> list[tuple[tuple, dict[str, list[str]]]]:
    """The window's text and link messages (recalled ones too) that match an active entry of any
    lexicon rule: (COLUMNS row, {rule: [entries]}), one streamed pass (see above)."""
    scans = _shared.get()
    bounds = (window.since, window.until, window.group_ids)
    if scans is not None and bounds in scans:
        return scans[bounds]
    matcher = load_matcher(LEXICON_RULES)
    rows = (_prefiltered(matcher, window) or _streamed(matcher, window)) if matcher else []
    if scans is not None:
        scans[bounds] = rows
    return rows


def _streamed(matcher: Matcher, window: Window) -> list[tuple[tuple, dict[str, list[str]]]]:
    """Every text and link message of the window through the automaton (id and body only), then
    the few matching messages read in full."""
    found: dict[int, dict[str, list[str]]] = {}
    for pk, text, link_url, link_title in window_messages(window, include_recalled=True, columns=SCAN_COLUMNS):
        if matched := message_matches(matcher, text, link_url, link_title):
            found[pk] = matched
    rows = []
    ids = list(found)
    for start in range(0, len(ids), 2000):
        chunk = ChatMessage.objects.filter(pk__in=ids[start : start + 2000]).order_by().values_list(*COLUMNS)
        rows.extend((row, found[row[0]]) for row in chunk)
    return rows


# PostgreSQL narrows the scan first: one case-insensitive regex of all words and patterns over each
# message in NFKC, every entry's characters with any run of characters outside this whitelist
# between them (what the normal form removes: "加❤微❤信" is 加微信), and the link/text against the
# domains. It finds at least what ``normalise`` finds of any entry made of whitelisted characters,
# so it returns a superset of the matches, which the automaton then checks exactly; an entry with
# another character (Cyrillic, say) falls back to the streamed scan. Matching the separators in the
# regex instead of removing them first (``regexp_replace`` of every message) took the prefilter of
# 830,000 messages from 1.8 s to 1.55 s. Case: the regex's ``~*`` knows every case pair that lower()
# does but one, İ (U+0130), whose lower case is i: an entry's i is written [iİ].
# Measured (bench_detection.py, 5.3M messages, shared machine at load 8): prefilter 41 s, stream 80 s.
# ``normalize(…, NFKC)`` was most of the prefilter's own cost; most messages are in NFKC already
# (the quick check ``IS NFKC NORMALIZED`` is a third of its price), so only the others are normalised.
# The domains' regex runs only on text that could hold one: a "." or a character NFKC may turn into
# one. Together 2.5 s → 1.7 s for the 564,000 messages of 1,200 groups (bench data, JIT off).
_KEPT = "0-9a-z\u3041-\u3096\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7a3"
_KEPT_CLASS = re.compile(f"^[{_KEPT}*?]+$")


def _nfkc(sql: str) -> str:
    return f"(CASE WHEN {sql} IS NFKC NORMALIZED THEN {sql} ELSE normalize({sql}, NFKC) END)"


_BODY = "(coalesce(text, '') || coalesce(link_title, ''))"
_LINKED = "(coalesce(link_url, '') || ' ' || coalesce(text, ''))"
_PG_BODY = _nfkc(_BODY)
_PG_LINKS = f"lower({_nfkc(_LINKED)})"
_PG_MAY_HOLD_A_DOMAIN = f"(strpos({_LINKED}, '.') > 0 OR NOT {_LINKED} IS NFKC NORMALIZED)"


_SEPARATORS = f"[^{_KEPT}]*"
_ONE_KEPT = f"[{_KEPT}\u0130]"


def _pg_token(c: str) -> str:
    """An entry's character in the prefilter's regex: ``*`` up to ``WILDCARD_SPAN`` whitelisted
    characters (separators around each), ``?`` one, i as [iİ], the others as they are."""
    if c == "*":
        return f"(?:{_SEPARATORS}{_ONE_KEPT}){{0,{WILDCARD_SPAN}}}"
    if c == "?":
        return _ONE_KEPT
    return "[i\u0130]" if c == "i" else re.escape(c)


def _pg_regex(forms: list[tuple[str, str]]) -> str:
    """The words and patterns as one regex over the text before its separators are removed."""
    return "|".join(_SEPARATORS.join(_pg_token(c) for c in text) for _kind, text in forms)


def _prefiltered(matcher: Matcher, window: Window) -> list[tuple[tuple, dict[str, list[str]]]] | None:
    if connection.vendor != "postgresql" or not all(_KEPT_CLASS.match(text) for _k, text in matcher.forms):
        return None
    conditions, params = [], []
    if matcher.forms:
        conditions.append(f"{_PG_BODY} ~* %s")
        params.append(_pg_regex(matcher.forms))
    if matcher.domains:
        guard = f"{_PG_MAY_HOLD_A_DOMAIN} AND " if all("." in d for _c, d in matcher.domains) else ""
        conditions.append(f"({guard}{_PG_LINKS} ~ %s)")
        params.append("|".join(re.escape(d) for _c, d in matcher.domains))
    # the SQL is our constants; the lexicon goes in as parameters
    candidate = RawSQL("(" + " OR ".join(conditions) + ")", params, output_field=BooleanField())  # noqa: S611
    messages = ChatMessage.objects.filter(
        kind__in=(MessageKind.TEXT, MessageKind.LINK), purged_at__isnull=True
    ).order_by()
    messages = _window_filter(messages, window).alias(candidate=candidate).filter(candidate=True)
    # A plain query, not .iterator(): PostgreSQL runs no parallel plan for a cursor, and the rows are
    # the few candidates (about 1.4 % of the benchmark's messages), not the window.
    rows = []
    for row in messages.values_list(*COLUMNS):
        if matched := message_matches(matcher, row[6], row[7], row[8]):
            rows.append((row, matched))
    return rows


def reason(words: list[str]) -> str:
    shown = "、".join(words[:REASON_WORDS]) + ("…" if len(words) > REASON_WORDS else "")
    return _("命中词库:%(words)s") % {"words": shown}


def detect(window: Window) -> Iterator[Hit]:
    for row, matched in lexicon_matches(window):
        pk, group_id, natural_key, sent_at, employee_id, sender, _text, _url, _title, recalled, _at = row
        if recalled:  # a recalled message's text is hidden from detection
            continue
        for code, words in matched.items():
            if code == AD_RULE:  # the repeated-advertisement detector's
                continue
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

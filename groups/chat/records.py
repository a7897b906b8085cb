"""The one record every reader yields, whatever the export format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_ID = 200  # ChatMessage.natural_key / sender_platform_id: a longer id is refused, not cut

# "@所有人" (WeChat, WeCom), "@全体成员" (QQ), "@all". A mention ends at whitespace: WeChat and
# WeCom put U+2005 (four-per-em space) after the name, QQ an ordinary space. An @ at the start or
# after whitespace is a mention; one typed inside a sentence ("麻烦@销售部-王五\u2005把合同发我") only
# when U+2005 ends it, as the apps write a mention picked from the list — so an e-mail address
# ("wang@example.com") is none.
EVERYONE = {"所有人", "全体成员", "all", "All"}
_MENTION_RE = re.compile(r"(?<![^\s\u2005])@([^\s@\u2005]{1,50})(?=[\s\u2005]|$)|@([^\s@\u2005]{1,50})\u2005")


# A URL written in a text: from ``http(s)://`` or ``www.`` up to the first character no URL holds
# unescaped (CJK, full-width punctuation, spaces, quotes, ``<>``), less the punctuation that ends a
# sentence or a bracket after it ("见 https://a.example/p/1。", "(https://a.example/p/1)").
_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?'"


def _url_end(url: str) -> str:
    while url:
        url = url.rstrip(_URL_TAIL)
        closing = url[-1:]
        opening = {")": "(", "]": "["}.get(closing)
        if opening is None or url.count(opening) >= url.count(closing):
            return url
        url = url[:-1]  # a bracket closed around the URL, not in it
    return url


def urls_in_text(text: str | None) -> list[str]:
    """The URLs written out in a text, each cut where it ends (``_URL_IN_TEXT``)."""
    if not text or not ("://" in text or "www." in text.lower()):
        return []
    return [url for m in _URL_IN_TEXT.finditer(text) if (url := _url_end(m.group(0))) and "." in url]


def parse_mentions(text: str | None) -> tuple[list[str], bool]:
    """The @-mentioned display names in a text and whether it mentions everyone."""
    if not text or "@" not in text:
        return [], False
    names: list[str] = []
    everyone = False
    for match in _MENTION_RE.finditer(text):
        name = match.group(1) or match.group(2)
        if name in EVERYONE:
            everyone = True
        elif name not in names:
            names.append(name)
    return names, everyone


@dataclass
class ChatRecord:
    """One message as read from a file. ``line`` is where it starts (1-based) for error messages;
    ``chat`` identifies the conversation in the file (WeCom roomid, WeChatMsg TalkerId, QQ 消息对象)."""

    line: int
    key: str
    chat: str
    sender_id: str
    sender_name: str
    sent_at: datetime
    kind: str
    text: str | None = None
    link_url: str | None = None
    link_title: str | None = None
    mentions: list[str] = field(default_factory=list)
    mentions_all: bool = False
    recalls: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    """A line that is no group message (a WeCom one-to-one chat, a device switch): counted, not stored."""

    line: int
    reason: str

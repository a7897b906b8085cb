"""The one record every reader yields, whatever the export format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# "@所有人" (WeChat, WeCom), "@全体成员" (QQ), "@all". A mention ends at whitespace: WeChat and
# WeCom put U+2005 (four-per-em space) after the name, QQ an ordinary space.
EVERYONE = {"所有人", "全体成员", "all", "All"}
_MENTION_RE = re.compile(r"(?<![^\s\u2005])@([^\s@\u2005]{1,50})(?=[\s\u2005]|$)")


def parse_mentions(text: str | None) -> tuple[list[str], bool]:
    """The @-mentioned display names in a text and whether it mentions everyone."""
    if not text or "@" not in text:
        return [], False
    names: list[str] = []
    everyone = False
    for name in _MENTION_RE.findall(text):
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

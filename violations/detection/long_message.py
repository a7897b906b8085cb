"""C09 超过200字未使用链接分享: a text message longer than the company's ``max_message_length``
(default 200 characters) that was not shared as a link or a file.

Only ``kind = text`` counts (links, files and app messages are the way the rule asks for), and not a
text that is only a link (a long URL pasted on its own is a link shared as a link). Text-based:
a recalled message's text is hidden from detection, and a purged body cannot be read, so neither
counts. The length is counted in characters by the database (``LENGTH``), one query.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models.functions import Length
from django.utils.translation import gettext as _

from groups.chat.records import urls_in_text
from groups.choices import MessageKind

from ..models import CompanySettings
from .base import Detector, Hit, Window
from .window_messages import hit, readable_text, rows, sent

NAME = "long_message"
RULE = "C09"


def detect(window: Window) -> Iterator[Hit]:
    limit = CompanySettings.load().max_message_length
    qs = (
        sent(window)
        .filter(readable_text(), kind=MessageKind.TEXT)
        .annotate(length=Length("text"))
        .filter(length__gt=limit)
        .order_by("sent_at", "pk")
    )
    for row in rows(qs, "length", "text"):
        text = row.pop("text").strip()
        if urls_in_text(text) == [text]:
            continue  # only a link
        reason = _("文字消息 %(n)s 字,超过 %(limit)s 字且未以链接或文件分享") % {"n": row["length"], "limit": limit}
        yield hit(row, NAME, RULE, reason, details={"length": row["length"], "limit": limit})


DETECTOR = Detector(name=NAME, rule_codes=(RULE,), detect=detect, label="超长文字消息")

"""B05 群内收送红包: a red envelope sent in the group.

The readers map WeCom's ``redpacket`` / ``external_redpacket``, WeChatMsg's app message 49/2001 and
QQ's ``[QQ红包]`` to ``kind = redpacket``. The rule is about sending: a recalled red envelope still
counts. Taking one shows in the exports only as the taker's own notice (not a group message), so
only the sender is found. One query.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext as _

from groups.choices import MessageKind

from .base import Detector, Hit, Window
from .window_messages import hit, rows, sent

NAME = "redpacket"
RULE = "B05"


def detect(window: Window) -> Iterator[Hit]:
    qs = sent(window).filter(kind=MessageKind.REDPACKET).order_by("sent_at", "pk")
    for row in rows(qs):
        yield hit(row, NAME, RULE, _("在群内发红包"))


DETECTOR = Detector(name=NAME, rule_codes=(RULE,), detect=detect, label="群内红包")

"""R03: a notice that asks for an acknowledgement ("收到请回复", "请确认" …) not acknowledged by the
end of the working day.

A notice is a text message, not recalled, from a leader of its group or (``admins_send_notices``)
one of its admins, that contains an acknowledgement-request phrase. It addresses the members it
@-mentions and, for @所有人 or no @ at all, every member who is an employee, leaders excepted. An
acknowledgement is a message of the person in the group after the notice that contains an
acknowledgement phrase (a one-character or plain-ASCII phrase such as "1" or "OK" must be the whole
message, half- or full-width; a phrase right after a negation — "没收到", "不明白" — is none) — or
any message, when ``any_reply_acknowledges``. The deadline is the end of work
(``work_day_end``) of the notice's working day; a notice after work or on a day off is due at the
end of the next working day. One hit per (notice, person); the hits of one notice share
``details['notice_key']``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from groups.choices import MessageKind
from groups.models import ChatMessage

from ..models import DirectiveSettings
from .base import Detector, Hit, Window
from .responsiveness import (
    Pair,
    WorkingClock,
    batched,
    group_admin_q,
    leader_q,
    local_iso,
    local_text,
    pair_hit,
    phrase_q,
    reply_times,
    unanswered_pairs,
    with_trimmed,
)

NAME = "ack_missing"


def notice_q(directive_settings: DirectiveSettings) -> Q:
    """A leader's (or group admin's) text containing an acknowledgement-request phrase."""
    senders = leader_q(directive_settings)
    if directive_settings.admins_send_notices:
        senders |= group_admin_q()
    return Q(kind=MessageKind.TEXT, recalled=False) & phrase_q(directive_settings.ack_request_phrases) & senders


def acknowledgements(directive_settings: DirectiveSettings):
    """The filter that keeps a person's replies that acknowledge."""
    if directive_settings.any_reply_acknowledges:
        return lambda replies: replies
    phrases = phrase_q(directive_settings.ack_phrases, denied=True)
    return lambda replies: with_trimmed(replies).filter(phrases)


def detect(window: Window) -> Iterator[Hit]:
    directive_settings = DirectiveSettings.load()
    clock = WorkingClock.from_settings(directive_settings)
    pairs = unanswered_pairs(
        with_trimmed(ChatMessage.objects.all()).filter(notice_q(directive_settings)),
        window=window,
        deadline_for_day=clock.day_end_segments,
        answers=acknowledgements(directive_settings),
        directive_settings=directive_settings,
    )
    reasons = _reasons()  # translated once per run, not per hit
    for batch in batched(pairs):
        acked = reply_times(batch)
        for pair in batch:
            yield _hit(pair, acked.get(pair.first_reply_id or 0), reasons)


def _reasons() -> tuple[str, str]:
    late = _(
        "%(sender)s 于 %(sent)s 发布的通知要求回复确认,%(person)s 到 %(acked)s 才确认(应于 %(deadline)s 下班前确认)"
    )
    silent = _("%(sender)s 于 %(sent)s 发布的通知要求回复确认,%(person)s 未在 %(deadline)s 下班前回复确认")
    return late, silent


def _hit(pair: Pair, acked_at: datetime.datetime | None, reasons: tuple[str, str]) -> Hit:
    numbers = {
        "sender": pair.sender_name,
        "sent": local_text(pair.sent_at),
        "person": pair.person_name,
        "deadline": local_text(pair.deadline),
    }
    if acked_at is not None:
        numbers["acked"] = local_text(acked_at)
    reason = reasons[0] if acked_at is not None else reasons[1]
    return pair_hit(
        pair,
        detector=NAME,
        rule_code="R03",
        reason=reason % numbers,
        details={
            "notice_key": f"{pair.group_id}:{pair.natural_key}",
            "notice_id": pair.message_id,
            "acknowledged_at": local_iso(acked_at) if acked_at else None,
        },
    )


# A lazy label, translated where it is shown.
DETECTOR = Detector(name=NAME, rule_codes=("R03",), detect=detect, label=gettext_lazy("通知未回复确认"))  # type: ignore[arg-type]

"""R01: a leader's directive not answered within ``directive_answer_minutes`` of working time.

A directive is a text message, not recalled, from a leader of its group (``DirectiveSettings``:
the group's owner, its department's head, the employees HR names for the group or for all groups)
that @-mentions someone, @所有人, or contains a directive phrase. It addresses the members it
@-mentions (群昵称 or 平台账号) and, for @所有人 or no @ at all, the group's members employed in the
group's department or one of its sub-departments (the responsible department), leaders excepted.
Any message of the person in the same group after the directive answers it. The deadline counts
working time only (``WorkingClock``): a directive at 23:59 or on a holiday counts from the next
working morning. One hit per (directive, person) once the deadline has passed at ``window.now``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from groups.choices import MessageKind
from groups.models import ChatMessage

from ..models import CompanySettings, DirectiveSettings
from .base import Detector, Hit, Window
from .responsiveness import (
    Pair,
    WorkingClock,
    batched,
    department_members,
    leader_q,
    local_iso,
    local_text,
    minutes_text,
    pair_hit,
    phrase_q,
    reply_times,
    unanswered_pairs,
    with_trimmed,
)

NAME = "directive_unanswered"


def directive_q(directive_settings: DirectiveSettings) -> Q:
    """A leader's text that @-mentions anyone (or everyone) or contains a directive phrase."""
    addressed = Q(mentions_all=True) | ~Q(mentions=[]) | phrase_q(directive_settings.directive_phrases)
    return Q(kind=MessageKind.TEXT, recalled=False) & leader_q(directive_settings) & addressed


def detect(window: Window) -> Iterator[Hit]:
    directive_settings = DirectiveSettings.load()
    limit = CompanySettings.load().directive_answer_minutes
    clock = WorkingClock.from_settings(directive_settings)
    duration = datetime.timedelta(minutes=limit)
    pairs = unanswered_pairs(
        with_trimmed(ChatMessage.objects.all()).filter(directive_q(directive_settings)),
        window=window,
        deadline_for_day=lambda day: clock.segments(day, duration),
        answers=lambda replies: replies,
        broadcast_scope=department_members(),
        directive_settings=directive_settings,
    )
    reasons = _reasons()  # translated once per run, not per hit
    for batch in batched(pairs):
        replied = reply_times(batch)
        for pair in batch:
            yield _hit(pair, replied.get(pair.first_reply_id or 0), clock, limit, reasons)


def _reasons() -> tuple[str, str]:
    late = _(
        "领导 %(leader)s 于 %(sent)s 的指令,%(person)s %(late)s 分钟后才回复"
        "(时限 %(limit)s 分钟,按工作时间计,应于 %(deadline)s 前回复)"
    )
    silent = _("领导 %(leader)s 于 %(sent)s 的指令,%(person)s 在 %(limit)s 分钟内(按工作时间计,至 %(deadline)s)未回复")
    return late, silent


def _hit(pair: Pair, replied_at, clock: WorkingClock, limit: int, reasons: tuple[str, str]) -> Hit:
    numbers = {
        "leader": pair.sender_name,
        "sent": local_text(pair.sent_at),
        "person": pair.person_name,
        "limit": limit,
        "deadline": local_text(pair.deadline),
    }
    if replied_at is not None:
        numbers["late"] = minutes_text(clock.elapsed(pair.sent_at, replied_at))
    reason = reasons[0] if replied_at is not None else reasons[1]
    return pair_hit(
        pair,
        detector=NAME,
        rule_code="R01",
        reason=reason % numbers,
        details={
            "directive_id": pair.message_id,
            "directive_key": pair.natural_key,
            "limit_minutes": limit,
            "replied_at": local_iso(replied_at) if replied_at else None,
        },
    )


# A lazy label, translated where it is shown.
DETECTOR = Detector(name=NAME, rule_codes=("R01",), detect=detect, label=gettext_lazy("领导指令未按时回复"))  # type: ignore[arg-type]

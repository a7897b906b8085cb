"""What the two responsiveness detectors share: working time, leaders, phrases, the responsible people.

R01 (``directives.py``) and R03 (``acknowledgements.py``) have the same shape: a triggering message
(a leader's directive, a notice asking for "收到"), the people it addresses, and a deadline in working
time by which each of them must have written something (any message; an acknowledgement). Both find
the people who did not, per (message, person): one scan finds the window's triggering messages,
then one SQL query per batch of them (in time order, across days):

- the triggering messages and the group's members they address are one join
  (``ChatMessage`` → group → memberships); for each (message, member) a scalar subquery finds the
  member's first answer after the message (one index probe, by platform id and by employee), and the
  pair is kept when neither came by the deadline;
- the deadline is a ``CASE`` over the message's time: within one day it is either ``sent_at + shift``
  or a fixed instant (before work, after work, on a day off), computed by ``WorkingClock.segments``;
  a batch's days are one ``CASE`` (``deadline_case_days``);
- a rule's narrower broadcast scope (R01: the group's department and its sub-departments) is
  checked on the returned rows in Python.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import NotSupportedError, connection
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, Upper

from groups.choices import EmployeeStatus, MessageKind
from groups.models import ChatGroup, ChatMessage, Department
from portal.postgres import nested_loops

from ..models import DirectiveSettings, GroupLeader
from ..workdays import workday_flags
from .base import Hit, Window

MEMBER = "group__memberships"
CALENDAR_CHUNK_DAYS = 62
BATCH = 900  # triggering messages per query (under SQLite's 999 parameters)
# Messages that are nobody's answer: a join/leave line, the recall event itself.
NOT_ANSWERS = (MessageKind.SYSTEM, MessageKind.RECALL)


def company_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)  # ZoneInfo caches its instances: cheap to call per hit


# ---------------------------------------------------------------------------------------------------
# Working time


@dataclass
class WorkingClock:
    """Working hours ``start``–``end`` (local time of ``tz``) on China's working days.

    A working day's hours are the half-open interval [start, end): a message at 18:00:00 sharp is after
    work. Deadlines take the earliest instant: 30 minutes from 17:30 end at 18:00, not 09:00 next day.
    """

    start: datetime.time
    end: datetime.time
    tz: ZoneInfo = field(default_factory=company_tz)
    _flags: dict[datetime.date, bool] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, directive_settings: DirectiveSettings) -> WorkingClock:
        return cls(directive_settings.work_day_start, directive_settings.work_day_end)

    def is_workday(self, day: datetime.date) -> bool:
        if day not in self._flags:
            # A chunk of days, within the year (the next year's calendar may not be known yet).
            last = min(day + datetime.timedelta(days=CALENDAR_CHUNK_DAYS), datetime.date(day.year, 12, 31))
            self._flags.update(workday_flags(day, last))
        return self._flags[day]

    def local_date(self, moment: datetime.datetime) -> datetime.date:
        return moment.astimezone(self.tz).date()

    def midnight(self, day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time(0), self.tz)

    def hours(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime] | None:
        """The working hours of ``day`` as aware instants, or None on a day off."""
        if not self.is_workday(day):
            return None
        return datetime.datetime.combine(day, self.start, self.tz), datetime.datetime.combine(day, self.end, self.tz)

    def next_working_instant(self, moment: datetime.datetime) -> datetime.datetime:
        """``moment`` itself if it lies in working hours, else the next working morning's start."""
        day = self.local_date(moment)
        for _ in range(400):
            hours = self.hours(day)
            if hours is not None:
                start, end = hours
                if moment < start:
                    return start
                if moment < end:
                    return moment
            day += datetime.timedelta(days=1)
            moment = max(moment, self.midnight(day))
        raise ValueError(f"no working day within 400 days after {moment}")

    def add(self, moment: datetime.datetime, duration: datetime.timedelta) -> datetime.datetime:
        """The instant when ``duration`` of working time has passed since ``moment``."""
        current = self.next_working_instant(moment)
        remaining = duration
        while True:
            _start, end = self.hours(self.local_date(current))  # type: ignore[misc]
            if current + remaining <= end:
                return current + remaining
            remaining -= end - current
            current = self.next_working_instant(end)

    def end_of_working_day(self, moment: datetime.datetime) -> datetime.datetime:
        """The end of work of the working day ``moment`` belongs to: its own day's end when sent before
        it on a working day, else the end of the next working day."""
        start = self.next_working_instant(moment)
        return self.hours(self.local_date(start))[1]  # type: ignore[index]

    def elapsed(self, since: datetime.datetime, until: datetime.datetime) -> datetime.timedelta:
        """Working time in [since, until]."""
        total = datetime.timedelta(0)
        day = self.local_date(since)
        if day == self.local_date(until):  # the common case, one day: no loop
            hours = self.hours(day)
            if hours is None:
                return total
            return max(total, min(until, hours[1]) - max(since, hours[0]))
        while self.midnight(day) <= until:
            hours = self.hours(day)
            if hours is not None:
                lo, hi = max(since, hours[0]), min(until, hours[1])
                if hi > lo:
                    total += hi - lo
            day += datetime.timedelta(days=1)
        return total

    def segments(self, day: datetime.date, duration: datetime.timedelta) -> tuple[list[Segment], Segment]:
        """``add(t, duration)`` for every t of local ``day`` as ordered pieces: each piece holds for t up
        to its ``until`` (``inclusive`` or not), the last (returned apart) for the rest of the day. A piece
        is ``t + shift`` or a fixed instant."""
        hours = self.hours(day)
        if hours is None:
            return [], Segment(fixed=self.add(self.midnight(day), duration))
        start, end = hours
        pieces = [Segment(until=start, inclusive=False, fixed=self.add(start, duration))]
        deadline = self.add(start, duration)
        shift = deadline - start
        landing_end = self.hours(self.local_date(deadline))[1]  # type: ignore[index]
        while True:
            # The deadline moves with t until it reaches the end of the day it lands on; an instant
            # later the rest carries over to the next working morning (a larger shift).
            hi = landing_end - shift
            if hi >= end:
                pieces.append(Segment(until=end, inclusive=False, shift=shift))
                break
            pieces.append(Segment(until=hi, inclusive=True, shift=shift))
            resume = self.next_working_instant(landing_end)
            shift += resume - landing_end
            landing_end = self.hours(self.local_date(resume))[1]  # type: ignore[index]
        return pieces, Segment(fixed=self.add(end, duration))

    def day_end_segments(self, day: datetime.date) -> tuple[list[Segment], Segment]:
        """``end_of_working_day(t)`` for every t of local ``day``: this day's end before it, else the next."""
        hours = self.hours(day)
        after = Segment(fixed=self.end_of_working_day(hours[1] if hours else self.midnight(day)))
        if hours is None:
            return [], after
        return [Segment(until=hours[1], inclusive=False, fixed=hours[1])], after


@dataclass(frozen=True)
class Segment:
    """One piece of a deadline function: for messages up to ``until``, ``sent_at + shift`` or ``fixed``."""

    until: datetime.datetime | None = None
    inclusive: bool = False
    shift: datetime.timedelta | None = None
    fixed: datetime.datetime | None = None

    def expression(self):
        if self.fixed is not None:
            return Value(self.fixed, output_field=DateTimeField())
        return ExpressionWrapper(F("sent_at") + Value(self.shift), output_field=DateTimeField())

    def at(self, moment: datetime.datetime) -> datetime.datetime:
        return self.fixed if self.fixed is not None else moment + self.shift  # type: ignore[operator]


def deadline_case(pieces: Sequence[Segment], rest: Segment):
    """The SQL ``CASE`` of a day's deadline pieces (``WorkingClock.segments``)."""
    whens = [When(**{"sent_at__lte" if p.inclusive else "sent_at__lt": p.until}, then=p.expression()) for p in pieces]
    if not whens:
        return rest.expression()
    return Case(*whens, default=rest.expression(), output_field=DateTimeField())


def deadline_case_days(days: Sequence[datetime.date], deadline_for_day, clock_tz: ZoneInfo):
    """One ``CASE`` for the messages of several local ``days`` (ascending): each day's pieces, then
    its rest up to the next midnight, so that a batch of triggering messages from many days is one
    query. The ``WHEN``s are tried in order, so a day's pieces only see that day's messages."""
    whens = []
    for day in days:
        pieces, rest = deadline_for_day(day)
        for p in pieces:
            whens.append(When(**{"sent_at__lte" if p.inclusive else "sent_at__lt": p.until}, then=p.expression()))
        midnight = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0), clock_tz)
        whens.append(When(sent_at__lt=midnight, then=rest.expression()))
    last_rest = deadline_for_day(days[-1])[1]
    return Case(*whens, default=last_rest.expression(), output_field=DateTimeField())


def local_iso(moment: datetime.datetime) -> str:
    return moment.astimezone(company_tz()).isoformat()


def local_text(moment: datetime.datetime) -> str:
    """2026-11-02 10:00:00 in the company's time zone (what HR reads in a reason)."""
    return moment.astimezone(company_tz()).strftime("%Y-%m-%d %H:%M:%S")


def minutes_text(duration: datetime.timedelta) -> int:
    """Whole minutes, rounded up (30 min 1 s late reads "31 分钟")."""
    return math.ceil(duration.total_seconds() / 60)


# ---------------------------------------------------------------------------------------------------
# SQL pieces


class JSONListHas(Func):
    """``list_expr`` (a JSON list of strings) contains the text ``item``: PostgreSQL ``@>``, SQLite
    ``json_each``. Used to resolve @-mentions against the members' nicknames in SQL."""

    arity = 2
    output_field = BooleanField()

    def as_sql(self, compiler, connection, function=None, template=None, arg_joiner=None, **extra_context):
        raise NotSupportedError("JSONListHas supports PostgreSQL and SQLite only")

    def _parts(self, compiler):
        (lst, lst_params), (item, item_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return lst, item, (*lst_params, *item_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        lst, item, params = self._parts(compiler)
        # Only compiled SQL of the two expressions is interpolated; values stay parameters.
        return f"EXISTS (SELECT 1 FROM json_each({lst}) AS mention WHERE mention.value = {item})", params  # noqa: S608

    def as_postgresql(self, compiler, connection, **extra_context):
        lst, item, params = self._parts(compiler)
        return f"({lst} @> jsonb_build_array({item}))", params


def is_exact_phrase(phrase: str) -> bool:
    """One character or plain ASCII (1, OK): must be the whole message, else it would match anything."""
    return len(phrase) < 2 or phrase.isascii()


# A phrase right after a negation is denied ("没收到", "没有收到", "不明白"): no acknowledgement.
NEGATIONS = ("不", "没", "沒", "未", "无")
NEGATION_WORDS = ("没有", "沒有")  # two characters: each its own look-behind (fixed width)
QUESTIONS = "?？吗嗎么"  # right after the phrase: it is asked ("收到吗?"), not said
# What an exact phrase is trimmed of: spaces as any input method types them (U+3000 in full-width
# mode, no-break spaces pasted from documents), tabs and line ends.
TRIMMED = " \t\r\n\u3000\u00a0"


def _full_width(phrase: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in phrase)


def _cases(phrase: str) -> list[str]:
    """Every upper/lower mix of a short phrase's letters ("ok" → ok, oK, Ok, OK); a longer one as
    written, upper and lower."""
    letters = [i for i, c in enumerate(phrase) if c.isalpha()]
    if len(letters) > 4:
        return list(dict.fromkeys((phrase, phrase.upper(), phrase.lower())))
    forms = []
    for mask in range(2 ** len(letters)):
        chars = list(phrase.lower())
        for bit, i in enumerate(letters):
            if mask >> bit & 1:
                chars[i] = chars[i].upper()
        forms.append("".join(chars))
    return forms


def _not_denied(phrases: list[str]) -> str:
    """A regex (PostgreSQL's and Python's alike) for a phrase at a place not right after a negation
    nor asked as a question: "收到,但附件没收到" holds a 收到 that stands alone and acknowledges;
    "没有收到附件" and "收到?不对,是没收到" do not."""
    behind = "".join(f"(?<!{re.escape(word)})" for word in NEGATION_WORDS)
    return f"(?<![{''.join(NEGATIONS)}]){behind}(?:{_alternatives(phrases)})(?![{QUESTIONS}])"


def _maybe_denied(phrases: list[str]) -> str:
    """A regex without look-arounds (PostgreSQL matches it by its fast automaton) for a phrase right
    after a negation or right before a question mark: only a message it matches can be one where
    ``_not_denied`` fails, so the look-around regex runs on those alone."""
    alternatives, words = _alternatives(phrases), _alternatives(NEGATION_WORDS)
    return f"(?:[{''.join(NEGATIONS)}]|{words})(?:{alternatives})|(?:{alternatives})[{QUESTIONS}]"


def _alternatives(phrases: Iterable[str]) -> str:
    return "|".join(re.escape(p) for p in phrases)


def phrase_q(phrases: Iterable[str], text: str = "text", trimmed: str = "text_trimmed", *, denied: bool = False) -> Q:
    """A message whose text contains a phrase (or, for an exact phrase, is it, trimmed, in any case,
    also in full-width letters and digits as Chinese input methods write them: "１", "ＯＫ", "Ｏｋ").
    ``denied``: a phrase right after a negation ("没收到", "没有收到", "不明白") does not count,
    unless the phrase stands alone elsewhere in the message. The queryset needs ``trimmed``
    annotated (``with_trimmed``) when any phrase is exact."""
    q = Q(pk__in=[])
    contained, exact = [], []
    for phrase in phrases:
        if is_exact_phrase(phrase):
            # ``trimmed`` is upper-cased by the database: PostgreSQL's UPPER folds full-width letters
            # too, SQLite's only ASCII, so the list holds each form upper-cased and as written
            for form in [phrase] + [_full_width(form) for form in _cases(phrase)]:
                exact += [form.upper(), form]
        else:
            contained.append(phrase)
    if exact:  # one trimmed, upper-cased text per message and one IN, not a comparison per form
        q |= Q(**{f"{trimmed}__in": sorted(set(exact))})
    holds = Q(pk__in=[])
    for phrase in contained:
        holds |= Q(**{f"{text}__contains": phrase})
    if contained and denied:
        # the LIKEs first; the look-around regex only where a negation or a question mark touches a
        # phrase (most replies hold neither: "收到", "好的,马上办")
        holds &= ~Q(**{f"{text}__regex": _maybe_denied(contained)}) | Q(**{f"{text}__regex": _not_denied(contained)})
    return q | holds if contained else q


class TrimSpace(Func):
    """``text`` without leading and trailing ``TRIMMED`` characters (``BTRIM`` / SQLite ``TRIM``)."""

    arity = 1
    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        function = "BTRIM" if connection.vendor == "postgresql" else "TRIM"
        return f"{function}({sql}, %s)", (*params, TRIMMED)


def with_trimmed(queryset, text: str = "text"):
    """``text_trimmed``: the text trimmed (``TRIMMED``) and upper-cased, what exact phrases compare."""
    return queryset.annotate(text_trimmed=Upper(TrimSpace(text)))


def leader_q(directive_settings: DirectiveSettings) -> Q:
    """The message's sender (a matched employee) is a leader of the message's group."""
    named = GroupLeader.objects.filter(employee_id=OuterRef("employee_id")).filter(
        Q(group__isnull=True) | Q(group_id=OuterRef("group_id"))
    )
    q = Q(Exists(named))
    if directive_settings.owner_is_leader:
        q |= Q(group__owner_id=F("employee_id"))
    if directive_settings.department_head_is_leader:
        q |= Q(group__department__head_id=F("employee_id"))
    return Q(employee_id__isnull=False) & q


def group_admin_q() -> Q:
    """The message's sender is an admin of its group (ChatGroup.admins, or the membership's flag)."""
    through = ChatGroup.admins.through
    listed = through.objects.filter(chatgroup_id=OuterRef("group_id"), employee_id=OuterRef("employee_id"))
    return Q(Exists(listed), employee_id__isnull=False) | Q(membership__is_admin=True)


def leaders_by_group(group_ids: Iterable[int], directive_settings: DirectiveSettings) -> dict[int, set[int]]:
    """group id → the employee ids that lead it (owner, department head, named, company-wide)."""
    ids = set(group_ids)
    result: dict[int, set[int]] = {gid: set() for gid in ids}
    for gid, owner, head in ChatGroup.objects.filter(pk__in=ids).values_list("pk", "owner_id", "department__head_id"):
        if directive_settings.owner_is_leader and owner:
            result[gid].add(owner)
        if directive_settings.department_head_is_leader and head:
            result[gid].add(head)
    everywhere: set[int] = set()
    for gid, employee in GroupLeader.objects.filter(Q(group_id__in=ids) | Q(group__isnull=True)).values_list(
        "group_id", "employee_id"
    ):
        (result[gid] if gid is not None else everywhere).add(employee)
    for leaders in result.values():
        leaders |= everywhere
    return result


def addressed_members_q() -> Q:
    """The group's members a triggering message addresses, open at its time, not its sender.

    Mentioned: a member whose 群昵称 or 平台账号 is among the message's @-mentions. Broadcast (@所有人,
    or no @ at all): the members who are employees (a rule's narrower scope, such as R01's responsible
    department, is applied to the rows in Python: ``unanswered_pairs``). Every condition is positive (no negated
    membership lookup): a negation would make Django put the membership in a subquery of its own.
    """
    m = MEMBER
    mentioned = Q(JSONListHas(F("mentions"), F(f"{m}__nickname"))) | Q(
        JSONListHas(F("mentions"), F(f"{m}__platform_id")), **{f"{m}__platform_id__gt": ""}
    )
    broadcast = (Q(mentions_all=True) | Q(mentions=[])) & Q(**{f"{m}__employee__isnull": False})
    open_then = (Q(**{f"{m}__joined_at__isnull": True}) | Q(**{f"{m}__joined_at__lte": F("sent_at")})) & (
        Q(**{f"{m}__left_at__isnull": True}) | Q(**{f"{m}__left_at__gt": F("sent_at")})
    )
    employed_then = (
        Q(**{f"{m}__employee__isnull": True})
        | Q(**{f"{m}__employee__departure_date__isnull": True, f"{m}__employee__status": EmployeeStatus.ACTIVE})
        | Q(**{f"{m}__employee__departure_date__gte": TruncDate("sent_at", tzinfo=company_tz())})
    )
    not_sender = (
        Q(**{f"{m}__employee__isnull": True})
        | Q(**{f"{m}__employee_id__lt": F("employee_id")})
        | Q(**{f"{m}__employee_id__gt": F("employee_id")})
    )
    return Q(**{f"{m}__id__isnull": False}) & open_then & employed_then & not_sender & (mentioned | broadcast)


def department_members() -> Callable[[Pair], bool]:
    """R01's broadcast scope: the member is employed in the group's department or one of its
    sub-departments (by the departments' tree paths, loaded once per run). In Python rather than
    SQL: the department joins made PostgreSQL's planner, which cannot estimate the batch's rows,
    loop over the whole department table for every row."""
    paths = dict(Department.objects.values_list("pk", "path"))

    def within(pair: Pair) -> bool:
        group_path = paths.get(pair.group_department_id or 0)
        member_path = paths.get(pair.member_department_id or 0)
        return group_path is not None and member_path is not None and member_path.startswith(group_path)

    return within


def later_messages(by: str):
    """The group's messages after the outer row's message written by the outer row's member, matched
    ``by`` its platform id or its employee: two subqueries rather than one with an OR, so that each
    reads one index range ((group, sender, sent_at), (employee, group, sent_at))."""
    m = MEMBER
    if by == "platform":
        person = Q(sender_platform_id=OuterRef(f"{m}__platform_id"), sender_platform_id__gt="")
    else:
        person = Q(employee_id=OuterRef(f"{m}__employee_id"))
    qs = ChatMessage.objects.filter(person, group_id=OuterRef("group_id"), sent_at__gt=OuterRef("sent_at"))
    return qs.exclude(kind__in=NOT_ANSWERS)


def first_reply(replies, field: str = "id") -> Subquery:
    # By time alone, so that the (employee, group, sent_at) / (group, sender, sent_at) index gives the
    # order and the scan stops at the first row (a tie-break on id would need a sort of all later rows).
    return Subquery(replies.order_by("sent_at").values(field)[:1])


NEVER = datetime.datetime(9999, 1, 1, tzinfo=datetime.UTC)  # "no answer at all", later than any deadline


def first_answer_at(answers, by: str):
    """The time of the member's first answer after the message (by platform id or by employee), or
    ``NEVER``. A scalar subquery is one index probe per (message, member) that stops at the first
    row; as ``NOT EXISTS`` PostgreSQL made an anti-join of it and, on the employee side, checked the
    message's time as a join filter, reading each person's earlier messages in every group."""
    return Coalesce(first_reply(answers(later_messages(by)), "sent_at"), Value(NEVER, DateTimeField()))


PAIR_FIELDS = (
    "id",
    "group_id",
    "natural_key",
    "sent_at",
    "deadline",
    "employee_id",
    "employee__name",
    "sender_name",
    "mentions",
    "mentions_all",
    f"{MEMBER}__id",
    f"{MEMBER}__employee_id",
    f"{MEMBER}__employee__name",
    f"{MEMBER}__employee__department_id",
    "group__department_id",
    f"{MEMBER}__nickname",
    f"{MEMBER}__platform_id",
    f"{MEMBER}__member_key",
)


@dataclass
class Pair:
    """One (triggering message, addressed person) left without the required answer by the deadline."""

    message_id: int
    group_id: int
    natural_key: str
    sent_at: datetime.datetime
    deadline: datetime.datetime
    sender_employee_id: int | None
    sender_name: str
    member_id: int
    employee_id: int | None
    person_name: str
    platform_id: str
    member_key: str
    mentioned: bool
    reply_ids: tuple[int, ...]
    member_department_id: int | None = None
    group_department_id: int | None = None
    first_reply_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def person(self) -> str:
        return f"e{self.employee_id}" if self.employee_id else self.member_key

    @property
    def key(self) -> str:
        return f"{self.group_id}:{self.natural_key}:{self.person}"


def unanswered_pairs(
    triggers,
    *,
    window: Window,
    deadline_for_day,
    answers,
    broadcast_scope: Callable[[Pair], bool] | None = None,
    directive_settings: DirectiveSettings,
) -> Iterator[Pair]:
    """The (message, member) pairs of ``triggers`` whose deadline has passed at ``window.now`` with no
    message of ``answers`` from the member by then.

    One scan finds the window's triggering messages (ids and times only); then, per batch of
    ``BATCH`` of them in time order, one query joins them to the members they address and checks the
    answers (the deadline a ``CASE`` over the batch's days). ``deadline_for_day(day)`` gives the
    day's ``(pieces, rest)``; ``answers`` filters the candidate replies (any message, an
    acknowledgement); ``broadcast_scope`` narrows a broadcast's members; leaders addressed only by a
    broadcast are dropped.
    """
    tz = company_tz()
    if window.group_ids is not None:
        triggers = triggers.filter(group_id__in=window.group_ids)
    if window.since is not None:
        triggers = triggers.filter(sent_at__gte=window.since)
    triggers = triggers.filter(sent_at__lt=window.until or window.now)
    found = [
        (sent_at, pk, sent_at.astimezone(tz).date(), None if mentions_all or not mentions else mentions)
        for pk, sent_at, mentions_all, mentions in triggers.order_by()
        .values_list("pk", "sent_at", "mentions_all", "mentions")
        .iterator(chunk_size=10_000)
    ]
    found.sort(key=lambda t: (t[0], t[1]))
    leaders: dict[int, set[int]] = {}
    for start in range(0, len(found), BATCH):
        chunk = found[start : start + BATCH]
        deadline = deadline_case_days(sorted({t[2] for t in chunk}), deadline_for_day, tz)
        pairs = []
        with nested_loops():  # 900 messages to their groups' members, not a merge over every membership
            for part in _addressing(chunk):
                rows = (
                    ChatMessage.objects.annotate(deadline=deadline)
                    .filter(deadline__lt=window.now)
                    .filter(addressed_members_q() & part)  # one filter(): one join of the memberships
                    .alias(answer_by_platform=first_answer_at(answers, "platform"))
                    .alias(answer_by_employee=first_answer_at(answers, "employee"))
                    .filter(answer_by_platform__gt=F("deadline"), answer_by_employee__gt=F("deadline"))
                    .annotate(
                        reply_by_platform=first_reply(answers(later_messages("platform"))),
                        reply_by_employee=first_reply(answers(later_messages("employee"))),
                    )
                    .values(*PAIR_FIELDS, "reply_by_platform", "reply_by_employee")
                )
                pairs += [_pair(row) for row in rows]
        pairs.sort(key=lambda p: (p.sent_at, p.message_id, p.member_id))
        if broadcast_scope is not None:
            pairs = [p for p in pairs if p.mentioned or broadcast_scope(p)]
        yield from _without_addressed_leaders(pairs, leaders, directive_settings)


def _addressing(chunk: list[tuple]) -> Iterator[Q]:
    """A batch's triggering messages as the conditions of its pair queries: the broadcasts (@所有人,
    or no @ at all), which address every member, and the messages that @-mention only some people,
    whose members are also looked up by the batch's mentioned names (on PostgreSQL: an index range
    of (group, nickname) / (group, platform id) per message, instead of testing each of the group's
    members against the message's mentions; one directive to one person in a group of 116 read all
    116). The mention test itself stays in ``addressed_members_q``."""
    broadcasts = [t[1] for t in chunk if t[3] is None]
    mentioning = [t for t in chunk if t[3] is not None]
    if broadcasts:
        yield Q(pk__in=broadcasts)
    if not mentioning:
        return
    q = Q(pk__in=[t[1] for t in mentioning])
    names = sorted({str(name) for t in mentioning for name in t[3]})
    if connection.vendor == "postgresql" and names:  # SQLite: its 999 parameters hold the ids alone
        q &= Q(**{f"{MEMBER}__nickname__in": names}) | Q(**{f"{MEMBER}__platform_id__in": names})
    yield q


def _without_addressed_leaders(
    pairs: list[Pair], leaders: dict[int, set[int]], directive_settings: DirectiveSettings
) -> Iterator[Pair]:
    """The pairs less the group's leaders addressed only by a broadcast (and any duplicate person)."""
    wanted = {p.group_id for p in pairs if not p.mentioned and p.employee_id} - set(leaders)
    if wanted:
        leaders.update(leaders_by_group(wanted, directive_settings))
    seen: set[tuple[int, str]] = set()
    for pair in pairs:
        if not pair.mentioned and pair.employee_id in leaders.get(pair.group_id, ()):
            continue  # a leader's broadcast addresses the staff, not the other leaders
        if (pair.message_id, pair.person) not in seen:
            seen.add((pair.message_id, pair.person))
            yield pair


def _pair(row: dict) -> Pair:
    m = MEMBER
    mentions = row["mentions"] or []
    nickname, platform_id = row[f"{m}__nickname"], row[f"{m}__platform_id"] or ""
    return Pair(
        message_id=row["id"],
        group_id=row["group_id"],
        natural_key=row["natural_key"],
        sent_at=row["sent_at"],
        deadline=row["deadline"],
        sender_employee_id=row["employee_id"],
        sender_name=row["employee__name"] or row["sender_name"] or "",
        member_id=row[f"{m}__id"],
        employee_id=row[f"{m}__employee_id"],
        person_name=row[f"{m}__employee__name"] or nickname,
        platform_id=platform_id,
        member_key=row[f"{m}__member_key"],
        mentioned=nickname in mentions or (bool(platform_id) and platform_id in mentions),
        reply_ids=tuple(row[k] for k in ("reply_by_platform", "reply_by_employee") if row[k]),
        member_department_id=row[f"{m}__employee__department_id"],
        group_department_id=row["group__department_id"],
    )


def reply_times(pairs: Sequence[Pair]) -> dict[int, datetime.datetime]:
    """The pairs' first replies (one query): sets each pair's ``first_reply_id`` to the earlier of its
    two candidates (by platform id, by employee) and returns reply id → send time."""
    ids = {i for p in pairs for i in p.reply_ids}
    if not ids:
        return {}
    times = dict(ChatMessage.objects.filter(pk__in=ids).values_list("pk", "sent_at"))
    for pair in pairs:
        if pair.reply_ids:
            pair.first_reply_id = min(pair.reply_ids, key=lambda i: (times[i], i))
    return times


def batched(iterable: Iterable[Pair], size: int = 2000) -> Iterator[list[Pair]]:
    batch: list[Pair] = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def pair_hit(pair: Pair, *, detector: str, rule_code: str, reason: str, details: dict[str, Any]) -> Hit:
    """The hit of one (message, addressed person) pair of R01 or R03: the message as evidence, then the
    person's first reply after it if any; ``details`` adds the rule's own facts to the shared ones."""
    return Hit(
        detector=detector,
        rule_code=rule_code,
        key=pair.key,
        group_id=pair.group_id,
        occurred_at=pair.sent_at,
        reason=reason,
        message_ids=(pair.message_id, pair.first_reply_id) if pair.first_reply_id else (pair.message_id,),
        employee_id=pair.employee_id,
        sender_platform_id=pair.platform_id,
        details={
            "person": pair.person,
            "addressed": "mention" if pair.mentioned else "broadcast",
            "deadline": local_iso(pair.deadline),
            **details,
        },
    )


# ---------------------------------------------------------------------------------------------------
# Answers that arrive in a later import

RECHECK_PER_QUERY = 200


def answered_in_time(detections: Sequence, answers_for: dict[str, Callable]) -> set[int]:
    """The ids of R01/R03 ``detections`` whose person has, in the messages stored now, the answer
    ``answers_for[detector]`` keeps in the group between the message and the hit's deadline: an
    export that ended before the deadline left it out, a later one brought it. A few queries for
    all of them (``RECHECK_PER_QUERY`` hits each), none per hit."""
    found: set[int] = set()
    for detector, answers in answers_for.items():
        mine = [d for d in detections if d.detector == detector and (d.details or {}).get("deadline")]
        for start in range(0, len(mine), RECHECK_PER_QUERY):
            part = mine[start : start + RECHECK_PER_QUERY]
            spans = []
            where = Q(pk__in=[])
            for d in part:
                deadline = datetime.datetime.fromisoformat(d.details["deadline"])
                person = Q(employee_id=d.employee_id) if d.employee_id else Q(pk__in=[])
                if d.sender_platform_id:
                    person |= Q(sender_platform_id=d.sender_platform_id)
                where |= person & Q(group_id=d.group_id, sent_at__gt=d.occurred_at, sent_at__lte=deadline)
                spans.append((d, deadline))
            replies = answers(ChatMessage.objects.exclude(kind__in=NOT_ANSWERS).filter(where))
            rows = list(replies.values_list("group_id", "employee_id", "sender_platform_id", "sent_at"))
            for d, deadline in spans:
                for group_id, employee_id, platform_id, sent_at in rows:
                    same = (d.employee_id and employee_id == d.employee_id) or (
                        d.sender_platform_id and platform_id == d.sender_platform_id
                    )
                    if group_id == d.group_id and same and d.occurred_at < sent_at <= deadline:
                        found.add(d.pk)
                        break
    return found

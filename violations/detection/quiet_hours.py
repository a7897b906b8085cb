"""B06 休息时间群聊: a message sent in the quiet hours (company setting, default 23:30–07:30, China's
time; a group may have its own or none, ``GroupDetectionSettings``).

The hours usually span midnight: 23:30:00 is inside, 07:30:00 outside. The rule is about sending, so
a recalled message counts (it was sent at that time); system lines and recall events do not.
One query per distinct setting (the company's, then each group override). The quiet hours of each
local day are one interval of ``sent_at`` (from the day's start time to the end time, the next day
when the hours span midnight), so the condition is one ``sent_at`` range per day of the window,
OR'd: the ``(group, sent_at)`` index reads only the night's rows, where a time-of-day expression
would have to be computed on every message of the window.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.db.models import F, Max, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import CompanySettings, GroupDetectionSettings
from .base import Detector, Hit, Window
from .window_messages import hit, rows, sent

NAME = "quiet_hours"
RULE = "B06"


def _seconds(t: datetime.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def quiet_intervals(
    start: datetime.time, end: datetime.time, since: datetime.datetime, until: datetime.datetime, tz
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """The quiet hours [start, end) of every local day touching [since, until), as aware datetimes."""
    if _seconds(start) == _seconds(end):  # no quiet hours at all
        return []
    spans_midnight = _seconds(start) > _seconds(end)
    day = since.astimezone(tz).date() - datetime.timedelta(days=1)
    last = until.astimezone(tz).date()
    out = []
    while day <= last:
        begin = datetime.datetime.combine(day, start, tz)
        finish = datetime.datetime.combine(day + datetime.timedelta(days=spans_midnight), end, tz)
        if finish > since and begin < until:
            out.append((begin, finish))
        day += datetime.timedelta(days=1)
    return out


def in_quiet_hours(start: datetime.time, end: datetime.time, qs: QuerySet, window: Window, tz) -> Q:
    """``sent_at`` in the quiet hours [start, end) of one of the local days of ``qs``'s messages
    (the window's bounds; an open bound: the first or last message of ``qs``)."""
    since, until = window.since, window.until
    if since is None or until is None:
        bounds = qs.aggregate(first=Min("sent_at"), last=Max("sent_at"))
        if bounds["first"] is None:
            return Q(pk__in=[])
        since = since or bounds["first"]
        until = until or bounds["last"] + datetime.timedelta(microseconds=1)
    condition = Q(pk__in=[])
    for begin, finish in quiet_intervals(start, end, since, until, tz):
        condition |= Q(sent_at__gte=begin, sent_at__lt=finish)
    return condition


def settings_by_group(window: Window) -> tuple[list[int], dict[tuple[datetime.time, datetime.time], list[int]]]:
    """(groups excluded from the company's hours, {(start, end): groups with their own hours})."""
    overrides = GroupDetectionSettings.objects.filter(Q(quiet_hours_off=True) | Q(quiet_hours_start__isnull=False))
    if window.group_ids is not None:
        overrides = overrides.filter(group_id__in=window.group_ids)
    own: dict[tuple[datetime.time, datetime.time], list[int]] = {}
    excluded = []
    for group_id, start, end, off in overrides.values_list(
        "group_id", "quiet_hours_start", "quiet_hours_end", "quiet_hours_off"
    ):
        excluded.append(group_id)
        if not off:
            own.setdefault((start, end), []).append(group_id)
    return excluded, own


def detect(window: Window) -> Iterator[Hit]:
    company = CompanySettings.load()
    tz = timezone.get_default_timezone()
    excluded, own = settings_by_group(window)
    base = sent(window)
    passes = [(company.quiet_hours_start, company.quiet_hours_end, base.exclude(group_id__in=excluded))]
    passes += [(start, end, base.filter(group_id__in=groups)) for (start, end), groups in own.items()]
    for start, end, qs in passes:
        hours = f"{start:%H:%M}–{end:%H:%M}"
        for row in rows(qs.filter(in_quiet_hours(start, end, qs, window, tz)).order_by(F("sent_at"), F("pk"))):
            local = timezone.localtime(row["sent_at"], tz)
            reason = _("休息时间(%(hours)s)内发送消息:%(at)s") % {"hours": hours, "at": f"{local:%Y-%m-%d %H:%M:%S}"}
            yield hit(row, NAME, RULE, reason, details={"quiet_hours": hours, "local_time": f"{local:%H:%M:%S}"})


DETECTOR = Detector(name=NAME, rule_codes=(RULE,), detect=detect, label="休息时间群聊")

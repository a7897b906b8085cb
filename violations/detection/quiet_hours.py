"""B06 休息时间群聊: a message sent in the quiet hours (company setting, default 23:30–07:30, China's
time; a group may have its own or none, ``GroupDetectionSettings``).

The hours usually span midnight: 23:30:00 is inside, 07:30:00 outside. The rule is about sending, so
a recalled message counts (it was sent at that time); system lines and recall events do not.
One query per distinct setting (the company's, then each group override), by the message's local
time of day computed in SQL.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.db.models import F, Q
from django.db.models.functions import ExtractHour, ExtractMinute, ExtractSecond
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import CompanySettings, GroupDetectionSettings
from .base import Detector, Hit, Window
from .window_messages import hit, rows, sent

NAME = "quiet_hours"
RULE = "B06"


def _seconds(t: datetime.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def in_quiet_hours(start: datetime.time, end: datetime.time) -> Q:
    """The condition on the annotation ``tod`` (local seconds since midnight) for [start, end)."""
    s, e = _seconds(start), _seconds(end)
    if s == e:  # no quiet hours at all
        return Q(pk__in=[])
    if s < e:
        return Q(tod__gte=s, tod__lt=e)
    return Q(tod__gte=s) | Q(tod__lt=e)


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
    base = sent(window).annotate(
        tod=ExtractHour("sent_at", tzinfo=tz) * 3600
        + ExtractMinute("sent_at", tzinfo=tz) * 60
        + ExtractSecond("sent_at", tzinfo=tz)
    )
    passes = [(company.quiet_hours_start, company.quiet_hours_end, base.exclude(group_id__in=excluded))]
    passes += [(start, end, base.filter(group_id__in=groups)) for (start, end), groups in own.items()]
    for start, end, qs in passes:
        hours = f"{start:%H:%M}–{end:%H:%M}"
        for row in rows(qs.filter(in_quiet_hours(start, end)).order_by(F("sent_at"), F("pk"))):
            local = timezone.localtime(row["sent_at"], tz)
            reason = _("休息时间(%(hours)s)内发送消息:%(at)s") % {"hours": hours, "at": f"{local:%Y-%m-%d %H:%M:%S}"}
            yield hit(row, NAME, RULE, reason, details={"quiet_hours": hours, "local_time": f"{local:%H:%M:%S}"})


DETECTOR = Detector(name=NAME, rule_codes=(RULE,), detect=detect, label="休息时间群聊")

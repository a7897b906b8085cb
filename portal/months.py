"""Calendar months in the company's time zone: parsing ``YYYY-MM``, bounds, neighbours.

The monthly cycle (deductions, the violation report, the dashboard) speaks in months; every place
that reads a month from a person or computes its bounds uses these, so a month means the same
interval and a bad month gets the same message everywhere.
"""

from __future__ import annotations

import calendar
import datetime
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_month(value: str | datetime.date, *, param: str = "month") -> datetime.date:
    """``"2026-10"`` (or any date in the month) → 2026-10-01.

    Anything else raises ValidationError keyed by ``param`` whose message shows the expected form and
    what was received; years outside 2000–2100 are refused the same way.
    """
    if isinstance(value, datetime.date):
        return value.replace(day=1)
    text = str(value or "").strip()
    match = MONTH_RE.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationError(
            {
                param: _("参数 %(param)s 的月份格式应为 YYYY-MM,例如 2026-10(收到“%(v)s”)。")
                % {"param": param, "v": text[:20]}
            }
        )
    year = int(match.group(1))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError(
            {param: _("参数 %(param)s 超出范围(%(first)s–%(last)s 年):%(v)s")
             % {"param": param, "first": FIRST_YEAR, "last": LAST_YEAR, "v": text[:20]}}
        )  # fmt: skip
    return datetime.date(year, int(match.group(2)), 1)


def month_error(error: ValidationError) -> str:
    """The message of a ``parse_month`` error, for callers that report one text."""
    return " ".join(error.messages)


def current_month(today: datetime.date | None = None) -> datetime.date:
    return (today or timezone.localdate()).replace(day=1)


def shift_month(month: datetime.date, delta: int) -> datetime.date:
    """The first day of the month ``delta`` months after (or before) ``month``'s."""
    index = month.year * 12 + month.month - 1 + delta
    return datetime.date(index // 12, index % 12 + 1, 1)


def previous_month(today: datetime.date | None = None) -> datetime.date:
    """The month before the one containing ``today`` (company time zone by default)."""
    return shift_month(current_month(today), -1)


def month_end(month: datetime.date) -> datetime.date:
    """The last day of ``month``'s month."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def month_start(moment: datetime.datetime | datetime.date) -> datetime.date:
    """The first day of the month containing ``moment`` (an aware datetime read in company time)."""
    if isinstance(moment, datetime.datetime):
        moment = timezone.localtime(moment).date()
    return moment.replace(day=1)


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """Aware [start, end) of the calendar month containing ``month``, in the company's time zone."""
    tz = timezone.get_current_timezone()
    first = month.replace(day=1)
    return (
        datetime.datetime.combine(first, datetime.time.min, tzinfo=tz),
        datetime.datetime.combine(shift_month(first, 1), datetime.time.min, tzinfo=tz),
    )


def months_before(moment: datetime.datetime, months: int) -> datetime.datetime:
    """The same wall-clock moment ``months`` calendar months earlier (day clamped to month end)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)

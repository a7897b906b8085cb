"""China's working-day calendar: the official holidays and adjusted weekends (调休), plus HR overrides.

The ``chinesecalendar`` package carries the State Council's yearly schedule. HR's
``WorkdayOverride`` rows win over it, and cover years the package does not know yet; for such a year
without overrides, Monday–Friday are working days (and a warning is logged once per year).

A year has *official data* when the package carries it (the years its holiday table spans, read from
the package, never hard-coded) or HR entered that year's State Council schedule
(``HolidaySchedule``, written by ``services.enter_holiday_schedule``). A deadline whose working days
run through a year without official data is *provisional* (暂定): HR is warned and both HR and the
employee see the mark.
"""

from __future__ import annotations

import datetime
import logging

import chinese_calendar
from chinese_calendar.constants import holidays as _package_holidays

logger = logging.getLogger(__name__)
_warned_years: set[int] = set()
MAX_SCAN_DAYS = 400


PACKAGE_YEARS = range(min(_package_holidays).year, max(_package_holidays).year + 1)


def years_without_official_data(years) -> list[int]:
    """The years among ``years`` that neither the package nor an HR-entered schedule covers (sorted)."""
    missing = sorted({year for year in years if year not in PACKAGE_YEARS})
    if not missing:
        return []  # no query for the years the package knows
    from .models import HolidaySchedule

    entered = set(HolidaySchedule.objects.filter(year__in=missing).values_list("year", flat=True))
    return [year for year in missing if year not in entered]


def official_data_for(year: int) -> bool:
    """Does ``year`` have the official schedule (in the package, or entered by HR)?"""
    return not years_without_official_data([year])


def deadline_years(deadline: datetime.date, start: datetime.date | None = None) -> range:
    """The years of the days counted for ``deadline``: (start, deadline], or the deadline's own year."""
    first = (start + datetime.timedelta(days=1)) if start is not None and start < deadline else deadline
    return range(first.year, deadline.year + 1)


def is_provisional(deadline: datetime.date | None, start: datetime.date | None = None) -> bool:
    """Was (would be) ``deadline`` computed on a day in a year without official data?

    ``start`` is the day the window opened (notice, filing); without it only the deadline's year counts.
    """
    if deadline is None:
        return False
    return bool(years_without_official_data(deadline_years(deadline, start)))


def _overrides(start: datetime.date, end: datetime.date) -> dict[datetime.date, bool]:
    from .models import WorkdayOverride

    return dict(WorkdayOverride.objects.filter(date__range=(start, end)).values_list("date", "is_workday"))


def _package_is_workday(day: datetime.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            logger.warning("chinesecalendar has no data for %s: Monday–Friday assumed unless overridden", day.year)
        return day.weekday() < 5


def is_workday(day: datetime.date) -> bool:
    """Is ``day`` a working day (override first, then the official calendar)?"""
    override = _overrides(day, day).get(day)
    return override if override is not None else _package_is_workday(day)


def add_workdays(start: datetime.date, n: int) -> datetime.date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted), n ≥ 1.

    A notice on Wed 2026-09-30 with 5 working days: 10-08, 10-09, 10-10 (Saturday worked, 调休),
    10-12, 10-13 → 2026-10-13.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    overrides = _overrides(start, start + datetime.timedelta(days=MAX_SCAN_DAYS))
    day, found = start, 0
    for _ in range(MAX_SCAN_DAYS):
        day += datetime.timedelta(days=1)
        workday = overrides.get(day)
        if workday is None:
            workday = _package_is_workday(day)
        if workday:
            found += 1
            if found == n:
                return day
    raise ValueError(f"no {n} working days within {MAX_SCAN_DAYS} days after {start}")


def workdays_between(start: datetime.date, end: datetime.date) -> int:
    """Working days in (start, end]: how many working days have passed since ``start``."""
    if end <= start:
        return 0
    overrides = _overrides(start, end)
    count, day = 0, start
    while day < end:
        day += datetime.timedelta(days=1)
        workday = overrides.get(day)
        if workday if workday is not None else _package_is_workday(day):
            count += 1
    return count


def workday_flags(start: datetime.date, end: datetime.date) -> dict[datetime.date, bool]:
    """Every day of [start, end] → is it a working day? One query for the overrides of the range
    (the chat detectors' working-time deadlines look up many days at once)."""
    overrides = _overrides(start, end)
    flags, day = {}, start
    while day <= end:
        workday = overrides.get(day)
        flags[day] = workday if workday is not None else _package_is_workday(day)
        day += datetime.timedelta(days=1)
    return flags

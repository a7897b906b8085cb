"""Months in the company's time zone: parsing, bounds, neighbours (portal/months.py)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal import months

SHANGHAI = timezone.get_fixed_timezone(8 * 60)


@pytest.mark.parametrize("text", ["2000-01", "2100-12", " 2026-10 ", "2026-1"])
def test_months_inside_the_range_parse(text):
    assert months.parse_month(text).day == 1


@pytest.mark.parametrize("text", ["1999-12", "2101-01"])
def test_years_outside_2000_to_2100_are_refused_naming_the_parameter(text):
    with pytest.raises(ValidationError) as raised:
        months.parse_month(text, param="monat")
    assert list(raised.value.message_dict) == ["monat"]
    assert "2000" in months.month_error(raised.value) and text in months.month_error(raised.value)


def test_a_date_stands_for_its_month():
    assert months.parse_month(datetime.date(2026, 10, 17)) == datetime.date(2026, 10, 1)


@pytest.mark.parametrize(
    ("month", "last"),
    [
        (datetime.date(2024, 2, 1), datetime.date(2024, 2, 29)),
        (datetime.date(2026, 2, 10), datetime.date(2026, 2, 28)),
        (datetime.date(2026, 12, 5), datetime.date(2026, 12, 31)),
        (datetime.date(2026, 4, 30), datetime.date(2026, 4, 30)),
    ],
)
def test_month_end_is_the_last_day_of_that_month(month, last):
    assert months.month_end(month) == last


def test_month_start_reads_a_moment_in_company_time():
    # 2026-10-31 23:30 in Shanghai (15:30 UTC) is October;
    # 2026-11-01 00:30 in Shanghai is 2026-10-31 16:30 UTC: November in company time.
    late_october = datetime.datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI)
    early_november = datetime.datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI)
    assert months.month_start(late_october) == datetime.date(2026, 10, 1)
    assert months.month_start(early_november.astimezone(datetime.UTC)) == datetime.date(2026, 11, 1)
    assert months.month_start(datetime.date(2026, 11, 15)) == datetime.date(2026, 11, 1)


def test_month_bounds_are_the_whole_month_whatever_day_is_given():
    start, end = months.month_bounds(datetime.date(2026, 12, 15))
    assert (start.date(), end.date()) == (datetime.date(2026, 12, 1), datetime.date(2027, 1, 1))
    assert start.utcoffset() == datetime.timedelta(hours=8)


def test_neighbouring_months():
    assert months.shift_month(datetime.date(2026, 1, 1), -1) == datetime.date(2025, 12, 1)
    assert months.shift_month(datetime.date(2026, 12, 1), 1) == datetime.date(2027, 1, 1)
    assert months.previous_month(datetime.date(2026, 3, 31)) == datetime.date(2026, 2, 1)
    assert months.current_month(datetime.date(2026, 3, 31)) == datetime.date(2026, 3, 1)

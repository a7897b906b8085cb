"""Working days: HR overrides win over the official calendar in every function, and the interval ends."""

from __future__ import annotations

import datetime
import logging

import pytest

from violations import workdays
from violations.models import WorkdayOverride
from violations.workdays import add_workdays, is_workday, workdays_between

D = datetime.date


@pytest.mark.django_db
def test_is_workday_follows_an_override_that_gives_a_holiday():
    assert is_workday(D(2026, 11, 17))  # an ordinary Tuesday
    WorkdayOverride.objects.create(date=D(2026, 11, 17), is_workday=False, note="公司额外放假")
    assert not is_workday(D(2026, 11, 17))


@pytest.mark.django_db
def test_is_workday_follows_an_override_that_makes_a_sunday_a_workday():
    assert not is_workday(D(2026, 11, 15))  # Sunday
    WorkdayOverride.objects.create(date=D(2026, 11, 15), is_workday=True, note="公司加班日")
    assert is_workday(D(2026, 11, 15))


@pytest.mark.django_db
def test_is_workday_ignores_overrides_of_other_days():
    WorkdayOverride.objects.create(date=D(2026, 11, 16), is_workday=False, note="只放这一天")
    assert is_workday(D(2026, 11, 17))


@pytest.mark.django_db
def test_workdays_between_counts_an_override_holiday_out():
    # Mon 11-09 … Fri 11-13: four working days after Monday
    assert workdays_between(D(2026, 11, 9), D(2026, 11, 13)) == 4
    WorkdayOverride.objects.create(date=D(2026, 11, 11), is_workday=False, note="公司额外放假")
    assert workdays_between(D(2026, 11, 9), D(2026, 11, 13)) == 3


@pytest.mark.django_db
def test_workdays_between_counts_an_override_workday_in():
    # Fri 11-13 → Mon 11-16: only Monday, unless HR made the Saturday a working day
    assert workdays_between(D(2026, 11, 13), D(2026, 11, 16)) == 1
    WorkdayOverride.objects.create(date=D(2026, 11, 14), is_workday=True, note="公司加班日")
    assert workdays_between(D(2026, 11, 13), D(2026, 11, 16)) == 2


@pytest.mark.django_db
def test_workdays_between_excludes_the_start_and_includes_the_end():
    assert workdays_between(D(2026, 11, 16), D(2026, 11, 17)) == 1  # Mon → Tue: Tuesday
    assert workdays_between(D(2026, 11, 16), D(2026, 11, 16)) == 0
    assert workdays_between(D(2026, 11, 14), D(2026, 11, 15)) == 0  # Sat → Sun


@pytest.mark.django_db
def test_add_workdays_counts_exactly_n_working_days():
    assert add_workdays(D(2026, 11, 9), 1) == D(2026, 11, 10)
    assert add_workdays(D(2026, 11, 9), 4) == D(2026, 11, 13)
    assert add_workdays(D(2026, 11, 9), 5) == D(2026, 11, 16)


@pytest.mark.django_db
def test_add_workdays_follows_an_override_holiday():
    WorkdayOverride.objects.create(date=D(2026, 11, 10), is_workday=False, note="公司额外放假")
    assert add_workdays(D(2026, 11, 9), 1) == D(2026, 11, 11)


@pytest.mark.django_db
def test_add_workdays_and_workdays_between_agree():
    start = D(2026, 11, 9)
    for n in (1, 3, 7, 12):
        assert workdays_between(start, add_workdays(start, n)) == n


@pytest.mark.django_db
def test_unknown_year_takes_monday_to_friday(monkeypatch):
    monkeypatch.setattr(workdays, "_warned_years", set())
    assert is_workday(D(2031, 1, 3))  # Friday
    assert not is_workday(D(2031, 1, 4))  # Saturday
    assert not is_workday(D(2031, 1, 5))  # Sunday
    assert workdays_between(D(2031, 1, 2), D(2031, 1, 7)) == 3  # Fri, Mon, Tue


@pytest.mark.django_db
def test_unknown_year_is_warned_about_once_per_year(monkeypatch, caplog):
    monkeypatch.setattr(workdays, "_warned_years", set())
    with caplog.at_level(logging.WARNING, logger="violations.workdays"):
        is_workday(D(2031, 1, 3))
        is_workday(D(2031, 1, 6))
        is_workday(D(2032, 1, 5))
    messages = [r.getMessage() for r in caplog.records if r.name == "violations.workdays"]
    assert len(messages) == 2
    assert "2031" in messages[0] and "2032" in messages[1]

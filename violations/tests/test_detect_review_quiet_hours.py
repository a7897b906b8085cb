"""Review of B06 quiet hours (``violations/detection/quiet_hours.py``): windows that start in the middle of
a night, the year's end, microsecond boundaries, group overrides (a same-day range, an empty row, a
group left out of the window) and a long window of many nights."""

import datetime

import pytest

from violations.detection.quiet_hours import DETECTOR
from violations.models import CompanySettings, GroupDetectionSettings

from .detection_helpers import at, found, ids, msg, window

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(org):
    return org["sales_group"]


def test_a_window_starting_after_midnight_sees_the_night_begun_the_day_before(group):
    """An import whose range starts at 02:00 covers the tail of the night begun at 23:30 the day before."""
    inside = msg(group, "wx_a", at(2026, 11, 4, 2, 0))
    msg(group, "wx_a", at(2026, 11, 4, 8, 0))
    assert ids(found(DETECTOR, window(since=at(2026, 11, 4, 2, 0), until=at(2026, 11, 4, 12, 0)))) == [inside.pk]


def test_a_window_ending_inside_a_night(group):
    inside = msg(group, "wx_a", at(2026, 11, 3, 23, 31))
    msg(group, "wx_a", at(2026, 11, 4, 1, 0))  # after the window's end
    assert ids(found(DETECTOR, window(since=at(2026, 11, 3, 12, 0), until=at(2026, 11, 4, 0, 0)))) == [inside.pk]


def test_new_years_eve_night_spans_the_year_and_the_month(group):
    hits = [msg(group, "wx_a", at(2026, 12, 31, 23, 45)), msg(group, "wx_a", at(2027, 1, 1, 0, 15))]
    msg(group, "wx_a", at(2027, 1, 1, 7, 30))
    assert ids(found(DETECTOR, window(since=at(2026, 12, 31), until=at(2027, 1, 2)))) == [m.pk for m in hits]


def test_microseconds_around_the_boundaries(group):
    tick = datetime.timedelta(microseconds=1)
    start, end = at(2026, 11, 3, 23, 30), at(2026, 11, 4, 7, 30)
    inside = [msg(group, "wx_a", start), msg(group, "wx_a", end - tick)]
    msg(group, "wx_a", start - tick)
    msg(group, "wx_a", end)
    assert ids(found(DETECTOR)) == [m.pk for m in inside]


def test_a_week_long_window_finds_each_night_once(group):
    nights = [msg(group, "wx_a", at(2026, 11, day, 23, 50)) for day in range(1, 8)]
    for day in range(1, 8):
        msg(group, "wx_a", at(2026, 11, day, 12, 0))
    hits = found(DETECTOR, window(since=at(2026, 11, 1), until=at(2026, 11, 8)))
    assert ids(hits) == [m.pk for m in nights]
    assert len({h.key for h in hits}) == 7


def test_a_group_with_a_lunch_break_rest_has_only_its_own_hours(group, org):
    """A group's own hours replace the company's: 12:00–13:30 in that group, and nothing at 23:45."""
    GroupDetectionSettings.objects.create(
        group=group, quiet_hours_start=datetime.time(12, 0), quiet_hours_end=datetime.time(13, 30)
    )
    noon = msg(group, "wx_a", at(2026, 11, 3, 12, 0))
    msg(group, "wx_a", at(2026, 11, 3, 13, 30))
    msg(group, "wx_a", at(2026, 11, 3, 23, 45))
    other_night = msg(org["tech_group"], "wx_b", at(2026, 11, 3, 23, 45))  # the company's hours there
    msg(org["tech_group"], "wx_b", at(2026, 11, 3, 12, 30))
    hits = found(DETECTOR)
    assert sorted(ids(hits)) == sorted([noon.pk, other_night.pk])
    assert {h.details["quiet_hours"] for h in hits} == {"12:00–13:30", "23:30–07:30"}


def test_an_override_row_without_hours_keeps_the_company_hours(group):
    GroupDetectionSettings.objects.create(group=group)  # both times empty, not switched off
    late = msg(group, "wx_a", at(2026, 11, 3, 23, 45))
    assert ids(found(DETECTOR)) == [late.pk]


def test_an_override_of_a_group_outside_the_window_changes_nothing(group, org):
    GroupDetectionSettings.objects.create(group=org["tech_group"], quiet_hours_off=True)
    late = msg(group, "wx_a", at(2026, 11, 3, 23, 45))
    msg(org["tech_group"], "wx_b", at(2026, 11, 3, 23, 45))
    assert ids(found(DETECTOR, window(groups=[group.pk]))) == [late.pk]
    assert ids(found(DETECTOR, window(groups=[org["tech_group"].pk]))) == []


def test_two_groups_with_the_same_own_hours(group, org):
    for g in (group, org["tech_group"]):
        GroupDetectionSettings.objects.create(
            group=g, quiet_hours_start=datetime.time(22, 0), quiet_hours_end=datetime.time(6, 0)
        )
    hits = [msg(group, "wx_a", at(2026, 11, 3, 22, 0)), msg(org["tech_group"], "wx_b", at(2026, 11, 4, 5, 59, 59))]
    msg(group, "wx_a", at(2026, 11, 4, 6, 0))
    assert sorted(ids(found(DETECTOR))) == sorted(m.pk for m in hits)


def test_company_hours_ending_at_midnight(group):
    settings = CompanySettings.load()
    settings.quiet_hours_start, settings.quiet_hours_end = datetime.time(22, 0), datetime.time(0, 0)
    settings.save()
    inside = msg(group, "wx_a", at(2026, 11, 3, 23, 59, 59))
    msg(group, "wx_a", at(2026, 11, 4, 0, 0))
    msg(group, "wx_a", at(2026, 11, 3, 21, 59, 59))
    assert ids(found(DETECTOR)) == [inside.pk]


def test_images_files_and_links_count_as_sending(group):
    sent = [
        msg(group, "wx_a", at(2026, 11, 3, 23, 40), kind="image", text=None),
        msg(group, "wx_a", at(2026, 11, 3, 23, 41), kind="file", text="周报.xlsx"),
        msg(group, "wx_a", at(2026, 11, 3, 23, 42), kind="link", text=None, link_url="https://a.example/x"),
    ]
    assert ids(found(DETECTOR)) == [m.pk for m in sent]

"""Years without the official holiday schedule: detection, 暂定 deadlines, HR entering the notice."""

from __future__ import annotations

import datetime

import chinese_calendar
import pytest
from auditlog.models import LogEntry
from chinese_calendar.constants import holidays as package_holidays
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from violations import calendar_notice, services
from violations.choices import ViolationStatus
from violations.holiday_schedule import parse_schedule
from violations.models import Appeal, HolidaySchedule, WorkdayOverride
from violations.workdays import (
    PACKAGE_YEARS,
    add_workdays,
    is_provisional,
    is_workday,
    official_data_for,
    years_without_official_data,
)

from .conftest import at

D = datetime.date
pytestmark = pytest.mark.django_db
Y = PACKAGE_YEARS.stop  # the first year the installed package has no data for
P = Y - 1  # the package's last year

NOTICE = """国务院办公厅关于2027年部分节假日安排的通知
经国务院批准，现将2027年元旦、春节、国庆节放假调休日期的具体安排通知如下。
一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月6日（周六）至12日（周五）放假调休，共7天。2月14日（周日）上班。
三、国庆节：2027-10-01至2027-10-07 放假
2027年9月26日（周日）、10月9日（周六）上班。
节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作。
"""

# Y's first week off, and one adjusted working day (whatever weekday these fall on).
WEEK_OFF = f"{Y}-01-01至{Y}-01-07 放假\n{Y}-01-09 上班\n"


def reference_add_workdays(start, n, off=(), on=()):
    """Independent count: the package for its years, Monday–Friday (± HR's days) after it."""
    day, found = start, 0
    while True:
        day += datetime.timedelta(days=1)
        if day in on:
            workday = True
        elif day in off:
            workday = False
        elif day.year in PACKAGE_YEARS:
            workday = chinese_calendar.is_workday(day)
        else:
            workday = day.weekday() < 5
        found += workday
        if found == n:
            return day


def week_off():
    return {D(Y, 1, d) for d in range(1, 8)}


@pytest.fixture
def notified(sanction, hr):
    """A violation notified on P-12-28: its 5 working days run into Y, which has no official data."""
    violation = sanction("C04", at(P, 11, 2, 10))
    return services.mark_notified(violation, acting_user=hr, at=at(P, 12, 28, 10))


# -- coverage and provisional detection ----------------------------------------------------------


def test_package_years_come_from_the_package():
    assert PACKAGE_YEARS.start == min(package_holidays).year
    assert PACKAGE_YEARS.stop - 1 == max(package_holidays).year
    assert official_data_for(P)
    assert not official_data_for(Y)
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(Y, 3, 1))  # really no data: the detection is not a guess


def test_entered_year_counts_as_covered(hr):
    HolidaySchedule.objects.create(year=Y, entered_by=hr, entered_at=at(P, 12, 1, 9), source_text="x")
    assert official_data_for(Y)
    assert years_without_official_data([P, Y, Y + 1]) == [Y + 1]


def test_provisional_detection():
    assert not is_provisional(D(P, 12, 30), D(P, 12, 20))
    assert is_provisional(D(Y, 1, 5), D(P, 12, 28))  # counted days run into Y
    assert is_provisional(D(Y, 1, 5))
    assert not is_provisional(D(P, 12, 31), D(P, 12, 31))
    assert not is_provisional(None)


def test_notified_deadline_into_an_unknown_year_is_provisional(notified):
    assert notified.appeal_deadline.year == Y
    assert notified.appeal_deadline_provisional


# -- parsing --------------------------------------------------------------------------------------


def test_parse_the_notice_text():
    parsed = parse_schedule(NOTICE, 2027)
    assert parsed.holidays == [
        *(D(2027, 1, d) for d in (1, 2, 3)),
        *(D(2027, 2, d) for d in range(6, 13)),
        *(D(2027, 10, d) for d in range(1, 8)),
    ]
    assert parsed.workdays == [D(2027, 2, 14), D(2027, 9, 26), D(2027, 10, 9)]
    assert parsed.skipped_lines == [1, 2, 7]  # title, preamble, closing paragraph: no dates


def test_parse_ranges_across_months_and_slashes():
    parsed = parse_schedule("9月30日至10月2日放假\n2027/10/10 上班", 2027)
    assert parsed.holidays == [D(2027, 9, 30), D(2027, 10, 1), D(2027, 10, 2)]
    assert parsed.workdays == [D(2027, 10, 10)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1月1日放假\n2月30日放假", "第2行: 日期“2月30日”不存在。"),
        ("10月1至7日放假", "第1行: 无法识别“10月1至7日”。"),
        ("1月1日至3日放假，共4天", "第1行: 写明共4天,但日期共3天。"),
        ("1月1日放假\n\n3月5日", "第3行: 日期后面没有写明“放假”还是“上班”。"),
        ("2026年12月31日放假", "第1行: 日期“2026年12月31日”不在2027年。"),
        ("10月8日至3日放假", "第1行: “10月8日至3日”结束早于开始。"),
        ("1月4日放假\n1月4日上班", "这些日期既写了放假又写了上班: 2027-01-04。"),
        ("1月1日放假\n明年 12 放假", "第2行: 无法识别“12”。"),
        ("国务院办公厅关于2027年部分节假日安排的通知", "没有读到任何日期。"),
    ],
)
def test_parse_refuses_bad_lines(text, message):
    with pytest.raises(ValidationError) as error:
        parse_schedule(text, 2027)
    assert message in error.value.messages


def test_every_bad_line_is_named():
    with pytest.raises(ValidationError) as error:
        parse_schedule("2月30日放假\n1月1日放假\n3月5日", 2027)
    assert [m[:4] for m in error.value.messages] == ["第1行:", "第3行:"]


# -- entering a year ------------------------------------------------------------------------------


def test_entering_a_year_creates_overrides_and_changes_the_count(hr):
    start = D(P, 12, 31)
    assert add_workdays(start, 1) == reference_add_workdays(start, 1)  # Monday–Friday assumed
    result = services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    rows = dict(WorkdayOverride.objects.filter(schedule=result.schedule).values_list("date", "is_workday"))
    assert rows == {**dict.fromkeys(week_off(), False), D(Y, 1, 9): True}
    assert not is_workday(D(Y, 1, 4)) and is_workday(D(Y, 1, 9))
    assert add_workdays(start, 1) == reference_add_workdays(start, 1, off=week_off(), on={D(Y, 1, 9)})
    assert add_workdays(start, 1) >= D(Y, 1, 8)
    assert official_data_for(Y)
    schedule = HolidaySchedule.objects.get(year=Y)
    assert (schedule.entered_by, schedule.source_text) == (hr, WEEK_OFF)


def test_entering_is_audited(hr):
    services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    schedule = HolidaySchedule.objects.get(year=Y)
    entries = LogEntry.objects.get_for_object(schedule)
    assert entries.filter(action=LogEntry.Action.CREATE, actor=hr).exists()
    summary = entries.get(action=LogEntry.Action.UPDATE, changes__has_key="holidays")
    assert summary.actor == hr
    assert summary.changes["workdays"] == [[None, [f"{Y}-01-09"]]]


def test_reentering_replaces_the_year_and_bad_text_changes_nothing(hr):
    services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    services.enter_holiday_schedule(Y, f"{Y}-05-03 放假", acting_user=hr)
    assert list(WorkdayOverride.objects.values_list("date", flat=True)) == [D(Y, 5, 3)]
    assert HolidaySchedule.objects.count() == 1
    with pytest.raises(ValidationError) as error:
        services.enter_holiday_schedule(Y, f"{Y}-05-04 放假\n{Y}-02-30 放假", acting_user=hr)
    assert error.value.message_dict["text"] == [f"第2行: 日期“{Y}-02-30”不存在。"]
    assert list(WorkdayOverride.objects.values_list("date", flat=True)) == [D(Y, 5, 3)]
    assert HolidaySchedule.objects.get().source_text == f"{Y}-05-03 放假"


def test_hr_own_override_on_a_listed_date_is_kept(hr):
    WorkdayOverride.objects.create(date=D(Y, 1, 2), is_workday=True, note="公司值班")
    result = services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    assert result.kept_manual == [D(Y, 1, 2)]
    assert is_workday(D(Y, 1, 2))


def test_a_package_year_is_refused(hr):
    with pytest.raises(ValidationError) as error:
        services.enter_holiday_schedule(P, f"{P}-05-03 放假", acting_user=hr)
    assert "year" in error.value.message_dict
    assert not WorkdayOverride.objects.exists()


@pytest.mark.parametrize("who", ["auditor", "head_sales", "group_admin", "employee_user"])
def test_only_hr_enters_a_schedule(request, who):
    with pytest.raises(PermissionDenied):
        services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=request.getfixturevalue(who))
    assert not HolidaySchedule.objects.exists() and not WorkdayOverride.objects.exists()


# -- recomputing open deadlines -------------------------------------------------------------------


def test_open_appeal_window_is_recomputed(notified, hr):
    before = notified.appeal_deadline
    result = services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    notified.refresh_from_db()
    expected = reference_add_workdays(D(P, 12, 28), 5, off=week_off(), on={D(Y, 1, 9)})
    assert notified.appeal_deadline == expected > before
    assert not notified.appeal_deadline_provisional
    assert result.appeal_deadlines == [(notified.pk, before, expected)]
    entry = LogEntry.objects.get_for_object(notified).filter(changes__has_key="appeal_deadline").latest("pk")
    assert entry.actor == hr
    assert entry.changes["appeal_deadline"] == [str(before), str(expected)]


def test_pending_decision_is_recomputed(notified, hr, employee_user):
    appeal = services.file_appeal(notified, "我没有转发", acting_user=employee_user, at=at(P, 12, 29, 10))
    window_before = notified.appeal_deadline
    due_before = appeal.decision_due
    assert appeal.decision_due_provisional
    result = services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    appeal.refresh_from_db()
    notified.refresh_from_db()
    assert appeal.decision_due == reference_add_workdays(D(P, 12, 29), 5, off=week_off(), on={D(Y, 1, 9)})
    assert appeal.decision_due > due_before
    assert not appeal.decision_due_provisional
    assert result.decision_dues == [(appeal.pk, due_before, appeal.decision_due)]
    assert notified.appeal_deadline == window_before  # appealed: the window is closed, left as it was
    entry = LogEntry.objects.get_for_object(appeal).filter(changes__has_key="decision_due").latest("pk")
    assert entry.actor == hr


def test_appeal_deadline_never_shortens(notified, hr):
    before = notified.appeal_deadline
    # Every weekend day of Y's January becomes a working day: the window would end sooner.
    weekends = [D(Y, 1, d) for d in range(1, 32) if D(Y, 1, d).weekday() >= 5]
    text = "".join(f"{d.isoformat()} 上班\n" for d in weekends)
    services.enter_holiday_schedule(Y, text, acting_user=hr)
    notified.refresh_from_db()
    assert reference_add_workdays(D(P, 12, 28), 5, on=set(weekends)) < before
    assert notified.appeal_deadline == before  # the employee keeps the time they were shown


def test_closed_windows_are_left_alone(notified, hr):
    notified.status = ViolationStatus.DISMISSED
    notified.dismissed_reason = "test"
    notified.save()
    before = notified.appeal_deadline
    services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    notified.refresh_from_db()
    assert notified.appeal_deadline == before


# -- the banner -----------------------------------------------------------------------------------


@pytest.fixture
def today(monkeypatch):
    def set_today(day):
        monkeypatch.setattr(calendar_notice, "local_today", lambda: day)

    return set_today


def test_banner_for_open_deadlines_in_an_unknown_year(notified, hr, today, client):
    today(D(P, 6, 1))  # far from the year end: only the deadline warns
    warning = calendar_notice.calendar_warning()
    assert warning == {"years": [Y], "open_count": 1, "next_year": None}
    client.force_login(hr)
    for url in (reverse("admin:index"), reverse("admin:violations_violation_changelist"), reverse("dashboard")):
        page = client.get(url).content.decode()
        assert 'data-testid="calendar-banner"' in page, url
        assert reverse("violations:holiday_schedule") in page
    services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    assert calendar_notice.calendar_warning() is None
    assert 'data-testid="calendar-banner"' not in client.get(reverse("admin:index")).content.decode()


def test_banner_near_the_year_end(hr, today, client):
    today(D(P, 6, 1))
    assert calendar_notice.calendar_warning() is None
    today(D(P, 11, 20))
    assert calendar_notice.calendar_warning() == {"years": [], "open_count": 0, "next_year": Y}
    client.force_login(hr)
    assert f"{Y}年即将开始" in client.get(reverse("admin:index")).content.decode()
    services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    assert calendar_notice.calendar_warning() is None


def test_banner_only_for_hr(notified, auditor, today, client):
    today(D(P, 6, 1))
    client.force_login(auditor)
    assert 'data-testid="calendar-banner"' not in client.get(reverse("admin:index")).content.decode()


# -- 暂定 on the employee's and HR's pages ------------------------------------------------------


def test_provisional_mark_on_employee_pages(notified, hr, employee_user, client):
    client.force_login(employee_user)
    mine = client.get(reverse("violations:mine")).content.decode()
    assert 'data-testid="provisional"' in mine and "暂定" in mine
    page = client.get(reverse("violations:appeal", args=[notified.pk])).content.decode()
    assert 'data-testid="provisional"' in page
    services.file_appeal(notified, "我没有转发", acting_user=employee_user, at=at(P, 12, 29, 10))
    assert "暂定" in client.get(reverse("violations:mine")).content.decode()  # the decision due date
    services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    assert "暂定" not in client.get(reverse("violations:mine")).content.decode()


def test_provisional_mark_on_hr_pages(notified, hr, employee_user, client):
    appeal = services.file_appeal(notified, "我没有转发", acting_user=employee_user, at=at(P, 12, 29, 10))
    client.force_login(hr)
    urls = [
        reverse("admin:violations_violation_changelist"),
        reverse("admin:violations_violation_change", args=[notified.pk]),
        reverse("admin:violations_appeal_changelist"),
        reverse("admin:violations_appeal_change", args=[appeal.pk]),
    ]
    for url in urls:
        assert 'class="provisional"' in client.get(url).content.decode(), url
    services.enter_holiday_schedule(Y, WEEK_OFF, acting_user=hr)
    for url in urls:
        assert 'class="provisional"' not in client.get(url).content.decode(), url


def test_not_provisional_inside_package_years(sanction, hr, employee_user, client):
    violation = services.mark_notified(sanction("C04", at(P, 11, 2, 10)), acting_user=hr, at=at(P, 11, 3, 10))
    assert not violation.appeal_deadline_provisional
    client.force_login(employee_user)
    assert "暂定" not in client.get(reverse("violations:mine")).content.decode()


# -- HR's form ------------------------------------------------------------------------------------


def test_form_previews_then_saves(hr, client):
    client.force_login(hr)
    url = reverse("violations:holiday_schedule")
    assert client.get(url).status_code == 200
    page = client.post(url, {"year": Y, "text": WEEK_OFF, "action": "preview"})
    assert page.status_code == 200
    assert 'data-testid="schedule-preview"' in page.content.decode()
    assert f"{Y}-01-04" in page.content.decode()
    assert not HolidaySchedule.objects.exists()  # a preview stores nothing
    response = client.post(url, {"year": Y, "text": WEEK_OFF, "action": "save"})
    assert response.status_code == 302
    assert WorkdayOverride.objects.filter(schedule__year=Y).count() == 8


def test_form_names_the_bad_line(hr, client):
    client.force_login(hr)
    page = client.post(
        reverse("violations:holiday_schedule"), {"year": Y, "text": f"{Y}-01-01 放假\n{Y}-13-01 放假", "action": "save"}
    )
    assert page.status_code == 200
    assert f"第2行: 日期“{Y}-13-01”不存在。" in page.content.decode()
    assert not HolidaySchedule.objects.exists() and not WorkdayOverride.objects.exists()


@pytest.mark.parametrize("who", ["auditor", "head_sales", "group_admin", "employee_user"])
def test_form_is_hr_only(request, who, client):
    client.force_login(request.getfixturevalue(who))
    url = reverse("violations:holiday_schedule")
    assert client.get(url).status_code == 403
    assert client.post(url, {"year": Y, "text": WEEK_OFF, "action": "save"}).status_code == 403
    assert not HolidaySchedule.objects.exists()
    assert Appeal.objects.count() == 0

"""R01 (``violations/detection/directives.py``): a leader's directive not answered within 30 minutes
of working time, on hand-built message sequences.

2026-11-02 is a Monday. 2026-09-25 (Friday) is the Mid-Autumn holiday; 2026-10-01…07 National Day;
Saturday 2026-10-10 is a working day (调休).
"""

from __future__ import annotations

import datetime

import pytest

from groups.models import Employee
from violations.detection import directives
from violations.detection.base import all_detectors
from violations.detection.responsiveness import WorkingClock, deadline_case_days
from violations.models import CompanySettings, DirectiveSettings, GroupLeader, WorkdayOverride

from .conftest import at
from .responsiveness_data import member, people, run, say

pytestmark = pytest.mark.django_db
R01 = directives.DETECTOR


def detect(now, **kw):
    return run(R01, now, **kw)


def test_registered_with_the_contract():
    assert R01 in all_detectors()
    assert (R01.name, R01.rule_codes) == ("directive_unanswered", ("R01",))


def test_answer_one_second_late_is_a_hit(room):
    directive = say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    reply = say(room.zhang, at(2026, 11, 2, 10, 30, 1), "好的,马上发")
    [hit] = detect(at(2026, 11, 2, 12, 0))
    assert (hit.rule_code, hit.employee_id, hit.group_id) == ("R01", room.zhang.employee_id, room.group.pk)
    assert hit.message_ids == (directive.pk, reply.pk)
    assert hit.occurred_at == directive.sent_at
    assert hit.reason == (
        "领导 李销售 于 2026-11-02 10:00:00 的指令,张三 31 分钟后才回复"
        "(时限 30 分钟,按工作时间计,应于 2026-11-02 10:30:00 前回复)"
    )
    assert hit.details["deadline"] == at(2026, 11, 2, 10, 30).isoformat()
    assert hit.details["addressed"] == "mention"
    assert hit.key == f"{room.group.pk}:{directive.natural_key}:e{room.zhang.employee_id}"


def test_answer_exactly_on_time_is_no_hit(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    say(room.zhang, at(2026, 11, 2, 10, 30), "收到")
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_no_answer_at_all(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    [hit] = detect(at(2026, 11, 3, 12, 0))
    assert hit.message_ids[1:] == ()
    assert "张三 在 30 分钟内(按工作时间计,至 2026-11-02 10:30:00)未回复" in hit.reason
    assert hit.details["replied_at"] is None


def test_directive_at_2359_counts_from_the_next_working_morning(room):
    say(room.leader, at(2026, 11, 2, 23, 59), "@华东区-张三 明早把报价单发我")
    say(room.zhang, at(2026, 11, 3, 9, 29, 59), "好")
    assert detect(at(2026, 11, 4, 12, 0)) == []


def test_directive_at_2359_answered_after_the_morning_deadline(room):
    say(room.leader, at(2026, 11, 2, 23, 59), "@华东区-张三 明早把报价单发我")
    say(room.zhang, at(2026, 11, 3, 9, 30, 1), "好")
    [hit] = detect(at(2026, 11, 4, 12, 0))
    assert hit.details["deadline"] == at(2026, 11, 3, 9, 30).isoformat()
    assert "31 分钟后才回复" in hit.reason  # working time: from 09:00, not from 23:59


def test_directive_straddling_the_end_of_the_day(room):
    # 17:50 + 30 minutes of working time: 10 minutes today, 20 tomorrow morning.
    say(room.leader, at(2026, 11, 2, 17, 50), "@华东区-张三 明天一早处理")
    say(room.zhang, at(2026, 11, 3, 9, 20), "好")
    assert detect(at(2026, 11, 4, 12, 0)) == []
    say(room.leader, at(2026, 11, 2, 17, 30), "@华东区-张三 下班前回个话")
    [hit] = detect(at(2026, 11, 4, 12, 0))
    assert hit.details["deadline"] == at(2026, 11, 2, 18, 0).isoformat()  # 17:30 + 30 = 18:00 today


def test_evening_before_a_holiday_counts_from_the_first_working_day_after(room):
    say(room.leader, at(2026, 9, 24, 18, 30), "@华东区-张三 节后第一天交方案")  # Friday 25th: 中秋节
    assert detect(at(2026, 9, 28, 9, 29)) == []
    [hit] = detect(at(2026, 9, 28, 9, 31))
    assert hit.details["deadline"] == at(2026, 9, 28, 9, 30).isoformat()


def test_friday_evening_before_a_worked_saturday(room):
    say(room.leader, at(2026, 10, 9, 19, 0), "@华东区-张三 明天上班后先处理这个")
    [hit] = detect(at(2026, 10, 12, 12, 0))
    assert hit.details["deadline"] == at(2026, 10, 10, 9, 30).isoformat()  # Saturday 10-10 is worked (调休)


def test_on_a_holiday_counts_from_the_next_working_morning(room):
    say(room.leader, at(2026, 10, 3, 11, 0), "@华东区-张三 节后处理")
    say(room.zhang, at(2026, 10, 8, 9, 10), "好的")
    assert detect(at(2026, 10, 9, 12, 0)) == []


def test_everyone_addresses_the_responsible_department(room, org):
    directive = say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 今天下班前把周报发群里")
    found = detect(at(2026, 11, 2, 12, 0))
    # 张三 (华东区, under 销售部) and 王五 (销售部); not 孙七 (技术部), not the leader himself.
    assert people(found) == ["张三", "王五"]
    assert {h.details["addressed"] for h in found} == {"broadcast"}
    assert len({h.key for h in found}) == 2
    assert all(h.message_ids == (directive.pk,) for h in found)


def test_phrase_without_mentions_is_a_directive_for_the_department(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "请大家今天下班前提交周报")
    say(room.wang, at(2026, 11, 2, 10, 5), "收到")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]


def test_plain_chat_of_a_leader_is_no_directive(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "今天天气不错")
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_specific_mentions_address_only_them(room, org):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 @技术部-孙七 看一下这个问题")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["孙七", "张三"]  # 孙七 too: mentioned by name


def test_everyone_and_a_mention_together(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 @技术部-孙七 明天开会")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["孙七", "张三", "王五"]


def test_mention_by_platform_id(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@wx_wang 报表")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["王五"]


def test_a_mention_resolves_only_in_the_group_of_its_message(room):
    """A batch holds the directives of many groups, and its pair query looks members up by every name
    the batch mentions: each name still counts only in the group whose message mentions it."""
    GroupLeader.objects.create(group=None, employee=room.leader.employee)  # a leader in every group
    lead_there = member(room.other, "wx_li", "技术部-李销售", room.leader.employee)
    say(room.leader, at(2026, 11, 2, 10, 0), "@ZhangSan 报表")  # 张三's id in the other group, not here
    say(lead_there, at(2026, 11, 2, 10, 1), "@华东区-张三 报表")  # his 群昵称 here, not there
    say(room.leader, at(2026, 11, 2, 10, 2), "@销售部-王五 报表")
    say(lead_there, at(2026, 11, 2, 10, 3), "@ZhangSan 报表")
    found = detect(at(2026, 11, 2, 12, 0))
    assert sorted((h.group_id, people([h])[0]) for h in found) == sorted(
        [(room.group.pk, "王五"), (room.other.pk, "张三")]
    )


def test_a_member_who_left_before_the_directive_is_not_responsible(room):
    room.wang.left_at = at(2026, 11, 2, 9, 0)
    room.wang.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 今天下班前把周报发群里")
    say(room.leader, at(2026, 11, 2, 10, 1), "@销售部-王五 你也交一下")  # mentioned, but gone
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]


def test_a_member_who_joined_after_the_directive_is_not_responsible(room):
    room.wang.joined_at = at(2026, 11, 2, 11, 0)
    room.wang.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 今天下班前把周报发群里")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]


def test_a_departed_employee_still_in_the_group_is_not_responsible(room, org):
    member(room.group, "wx_zhaoliu", "华东区-赵六", org["east_departed"])  # status departed, no date
    left = Employee.objects.create(
        employee_no="E0104", name="周八", department=org["sales"], departure_date=datetime.date(2026, 11, 1)
    )
    member(room.group, "wx_zhou", "销售部-周八", left)
    staying = Employee.objects.create(
        employee_no="E0105", name="吴九", department=org["sales"], departure_date=datetime.date(2026, 11, 2)
    )
    member(room.group, "wx_wu", "销售部-吴九", staying)  # leaves today: still at work at 10:00
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 今天下班前把周报发群里")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["吴九", "张三", "王五"]


def test_an_answer_in_another_group_does_not_count(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    say(room.zhang, at(2026, 11, 2, 10, 5), "收到", group=room.other)
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]


def test_an_answer_before_the_directive_does_not_count(room):
    say(room.zhang, at(2026, 11, 2, 9, 59), "早")
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]


def test_a_system_line_is_no_answer(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    say(room.zhang, at(2026, 11, 2, 10, 5), "“华东区-张三”修改群昵称", kind="system")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]


def test_an_image_is_an_answer(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    say(room.zhang, at(2026, 11, 2, 10, 5), None, kind="image")
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_a_recalled_directive_is_no_directive(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我", recalled=True)
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_unmatched_sender_is_no_leader(room):
    say(None, at(2026, 11, 2, 10, 0), "@所有人 今天下班前把周报发群里", group=room.group, platform_id="wx_stranger")
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_a_mentioned_outsider_is_a_hit_without_employee(room):
    guest = member(room.group, "wx_guest", "客户-老赵")
    say(room.leader, at(2026, 11, 2, 10, 0), "@客户-老赵 请确认报价")
    [hit] = detect(at(2026, 11, 2, 12, 0))
    assert (hit.employee_id, hit.sender_platform_id) == (None, "wx_guest")
    assert hit.key.endswith(f":{guest.member_key}")
    say(None, at(2026, 11, 2, 10, 1), "好的", group=room.group, platform_id="wx_guest")  # matched by platform id
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_only_leaders_give_directives(room):
    say(room.wang, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_named_leaders_per_group_and_company_wide(room, org):
    GroupLeader.objects.create(group=room.group, employee=room.wang.employee)
    say(room.wang, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]
    ceo = member(room.other, "WangZong", "王总", org["ceo"])
    tech_dev = member(room.other, "SunQi", "孙七", org["tech_dev"])
    GroupLeader.objects.create(group=None, employee=org["ceo"])
    say(ceo, at(2026, 11, 2, 10, 0), "@孙七 看下服务器")
    assert people(detect(at(2026, 11, 2, 12, 0), group_ids=(room.other.pk,))) == ["孙七"]
    assert tech_dev.employee_id == org["tech_dev"].pk


def test_other_leaders_are_not_addressed_by_a_broadcast(room):
    GroupLeader.objects.create(group=room.group, employee=room.wang.employee)
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 今天下班前把周报发群里")
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三"]
    say(room.leader, at(2026, 11, 2, 10, 1), "@销售部-王五 你牵头")  # a mention still addresses a leader
    assert people(detect(at(2026, 11, 2, 12, 0))) == ["张三", "王五"]


def test_owner_and_head_as_leaders_are_settings(room, org):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")  # 李销售: owner and head
    settings = DirectiveSettings.load()
    settings.owner_is_leader = False
    settings.save()
    assert len(detect(at(2026, 11, 2, 12, 0))) == 1  # still the department head
    settings.department_head_is_leader = False
    settings.save()
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_the_deadline_is_the_company_setting(room):
    company = CompanySettings.load()
    company.directive_answer_minutes = 60
    company.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    say(room.zhang, at(2026, 11, 2, 10, 45), "好")
    assert detect(at(2026, 11, 2, 12, 0)) == []


def test_run_before_the_deadline_then_after(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    assert detect(at(2026, 11, 2, 10, 20)) == []  # not yet due: no hit
    assert detect(at(2026, 11, 2, 10, 30)) == []  # due at 10:30:00, still answerable at that instant
    first = detect(at(2026, 11, 2, 10, 31))
    second = detect(at(2026, 11, 3, 10, 0))
    assert len(first) == 1
    assert [h.key for h in first] == [h.key for h in second]


def test_two_runs_give_the_same_keys(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 今天下班前把周报发群里")
    say(room.leader, at(2026, 11, 3, 23, 0), "@华东区-张三 明早回复")
    first = {h.key for h in detect(at(2026, 11, 5, 12, 0))}
    assert len(first) == 3
    assert first == {h.key for h in detect(at(2026, 11, 5, 12, 0))}


def test_only_directives_inside_the_window_are_reported(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    inside = say(room.leader, at(2026, 11, 3, 10, 0), "@华东区-张三 再发一次")
    found = detect(at(2026, 11, 4, 12, 0), since=at(2026, 11, 3, 0, 0), until=at(2026, 11, 4, 0, 0))
    assert [h.details["directive_id"] for h in found] == [inside.pk]
    assert detect(at(2026, 11, 4, 12, 0), group_ids=(room.other.pk,)) == []


def test_answer_matching_is_one_query_per_day(room, django_assert_max_num_queries):
    for day in (2, 3, 4):
        say(room.leader, at(2026, 11, day, 10, 0), "@所有人 今天下班前把周报发群里")
        say(room.leader, at(2026, 11, day, 11, 0), "@华东区-张三 回一下")
    # settings ×2, the departments, the scan for directives, the calendar, the batch's pairs (its
    # broadcasts, its @-mentions: two queries whatever the number of days, planner settings set and
    # reset around them on PostgreSQL), leaders ×2
    with django_assert_max_num_queries(11):
        assert len(detect(at(2026, 11, 5, 12, 0), since=at(2026, 11, 2, 0, 0), until=at(2026, 11, 5, 0, 0))) == 9


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(30, (9, 18)), (0, (9, 18)), (1, (9, 18)), (540, (9, 18)), (600, (9, 18)), (2000, (9, 18)), (45, (8, 17))],
)
def test_the_day_pieces_agree_with_the_working_clock(minutes, hours):
    """The SQL CASE pieces (``segments``) give the same deadline as ``WorkingClock.add`` at every minute
    of days around a holiday, a worked Saturday and an ordinary week."""
    clock = WorkingClock(datetime.time(hours[0]), datetime.time(hours[1]))
    duration = datetime.timedelta(minutes=minutes)
    for day in [datetime.date(2026, 9, 24) + datetime.timedelta(days=n) for n in range(20)]:
        pieces, rest = clock.segments(day, duration)
        start = datetime.datetime.combine(day, datetime.time(0), clock.tz)
        for step in range(0, 24 * 60 * 60, 97):  # every 97 s, through the boundaries' neighbours
            moment = start + datetime.timedelta(seconds=step)
            piece = next((p for p in pieces if (moment <= p.until if p.inclusive else moment < p.until)), rest)
            assert piece.at(moment) == clock.add(moment, duration), moment
        for edge in (datetime.time(9), datetime.time(17, 30), datetime.time(18), datetime.time(8, 59, 59)):
            moment = datetime.datetime.combine(day, edge, clock.tz)
            piece = next((p for p in pieces if (moment <= p.until if p.inclusive else moment < p.until)), rest)
            assert piece.at(moment) == clock.add(moment, duration), moment


@pytest.mark.parametrize("minutes", [30, 600])
def test_one_case_over_many_days_agrees_with_the_working_clock(room, minutes):
    """A batch of directives from many days is one query: the days' pieces in one SQL ``CASE``
    (``deadline_case_days``) give each message the deadline ``WorkingClock.add`` gives it, across the
    National Day holiday, its worked Saturday and the weekends around it, with days missing between."""
    from groups.models import ChatMessage

    clock = WorkingClock(datetime.time(9), datetime.time(18))
    duration = datetime.timedelta(minutes=minutes)
    start = datetime.datetime(2026, 9, 24, 0, 7, tzinfo=clock.tz)
    every = [start + datetime.timedelta(minutes=53 * n) for n in range(16 * 24 * 60 // 53)]
    moments = [m for m in every if clock.local_date(m).toordinal() % 3]  # days without any between
    ids = [say(room.leader, moment, f"第{n}条").pk for n, moment in enumerate(moments)]
    days = sorted({clock.local_date(m) for m in moments})
    case = deadline_case_days(days, lambda day: clock.segments(day, duration), clock.tz)
    got = dict(ChatMessage.objects.filter(pk__in=ids).annotate(deadline=case).values_list("sent_at", "deadline"))
    assert len(got) == len(moments)
    for moment in moments:
        assert got[moment] == clock.add(moment, duration), moment


def test_working_clock_elapsed():
    clock = WorkingClock(datetime.time(9), datetime.time(18))
    assert clock.elapsed(at(2026, 11, 2, 17, 50), at(2026, 11, 3, 9, 21)) == datetime.timedelta(minutes=31)
    assert clock.elapsed(at(2026, 9, 30, 20, 0), at(2026, 10, 8, 9, 5)) == datetime.timedelta(minutes=5)
    assert clock.elapsed(at(2026, 11, 2, 8, 0), at(2026, 11, 2, 9, 10)) == datetime.timedelta(minutes=10)
    assert clock.elapsed(at(2026, 11, 2, 17, 0), at(2026, 11, 2, 19, 0)) == datetime.timedelta(hours=1)
    assert clock.elapsed(at(2026, 10, 3, 9, 0), at(2026, 10, 3, 12, 0)) == datetime.timedelta(0)  # 国庆


def test_working_hours_are_a_setting(room):
    settings = DirectiveSettings.load()
    settings.work_day_start, settings.work_day_end = datetime.time(8, 30), datetime.time(17, 30)
    settings.save()
    say(room.leader, at(2026, 11, 2, 17, 20), "@华东区-张三 下班前回个话")
    [hit] = detect(at(2026, 11, 4, 12, 0))
    assert hit.details["deadline"] == at(2026, 11, 3, 8, 50).isoformat()  # 10 min today, 20 from 08:30


def test_hr_calendar_overrides_move_the_deadline(room):
    WorkdayOverride.objects.create(date=datetime.date(2026, 11, 3), is_workday=False, note="公司停工")
    say(room.leader, at(2026, 11, 2, 17, 50), "@华东区-张三 明天一早处理")
    say(room.zhang, at(2026, 11, 4, 9, 15), "好")  # Tuesday is off: 10 min Monday, 20 min Wednesday
    assert detect(at(2026, 11, 5, 12, 0)) == []

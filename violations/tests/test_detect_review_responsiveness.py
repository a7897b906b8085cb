"""Review of R01 (directives) and R03 (acknowledgements): the last second of a day and of a week, 调休
Saturdays and the Spring Festival, answers exactly at the deadline and one second late, who is
addressed (left, departed, two accounts, mentioned twice, @所有人 with names, mid-sentence @), the
leader's own messages, 收到 variants and negations, reruns and dismissals through the runner.

2026-11-02 is a Monday; Saturday 2026-10-10 is worked (调休); 2026-02-14 (Saturday) is worked and
2026-02-15 … 02-23 are the Spring Festival's days off."""

from __future__ import annotations

import datetime

import pytest

from groups.models import Employee
from violations import services
from violations.choices import ViolationStatus
from violations.detection import acknowledgements, directives
from violations.models import Detection, Violation
from violations.services.detection import detect_chat

from .conftest import at
from .responsiveness_data import member, people, run, say

pytestmark = pytest.mark.django_db
R01, R03 = directives.DETECTOR, acknowledgements.DETECTOR
NOTICE = "@所有人 明天上午十点在三楼开会,收到请回复"


# --- R01: deadlines ------------------------------------------------------------------------------


def test_friday_23_59_59_is_due_monday_09_30_and_one_second_late_reads_31_minutes(room):
    say(room.leader, at(2026, 11, 6, 23, 59, 59), "@华东区-张三 周一把合同发我")
    say(room.wang, at(2026, 11, 6, 23, 59, 59), "占位")  # someone else's message: no answer for 张三
    assert run(R01, at(2026, 11, 9, 9, 30)) == []  # due at 09:30:00, not yet past
    [hit] = run(R01, at(2026, 11, 9, 9, 30, 1))
    assert hit.details["deadline"] == at(2026, 11, 9, 9, 30).isoformat()
    say(room.zhang, at(2026, 11, 9, 9, 30, 1), "好的")
    [late] = run(R01, at(2026, 11, 9, 12, 0))
    assert "31 分钟后才回复" in late.reason and late.key == hit.key


def test_an_answer_exactly_at_a_next_morning_deadline_is_on_time(room):
    say(room.leader, at(2026, 11, 2, 17, 59, 59), "@华东区-张三 明早处理")  # 1 s today, 29 min 59 s tomorrow
    say(room.zhang, at(2026, 11, 3, 9, 29, 59), "好")
    assert run(R01, at(2026, 11, 4, 12, 0)) == []


def test_a_directive_on_a_worked_saturday_is_due_the_same_morning(room):
    say(room.leader, at(2026, 10, 10, 10, 0), "@华东区-张三 把国庆期间的订单汇总")
    say(room.zhang, at(2026, 10, 10, 10, 31), "好")
    [hit] = run(R01, at(2026, 10, 12, 12, 0))
    assert hit.details["deadline"] == at(2026, 10, 10, 10, 30).isoformat()


def test_a_directive_on_the_sunday_after_a_worked_saturday_counts_from_monday(room):
    say(room.leader, at(2026, 10, 11, 15, 0), "@华东区-张三 明天先处理这个")
    [hit] = run(R01, at(2026, 10, 13, 12, 0))
    assert hit.details["deadline"] == at(2026, 10, 12, 9, 30).isoformat()


def test_the_last_worked_saturday_before_the_spring_festival(room):
    say(room.leader, at(2026, 2, 14, 17, 50), "@华东区-张三 节前最后一件事")
    assert run(R01, at(2026, 2, 24, 9, 20)) == []
    [hit] = run(R01, at(2026, 2, 24, 9, 20, 1))
    assert hit.details["deadline"] == at(2026, 2, 24, 9, 20).isoformat()  # 10 min Saturday, 20 after the holiday


def test_a_directive_during_the_spring_festival_counts_from_the_first_working_morning(room):
    say(room.leader, at(2026, 2, 17, 10, 0), "@华东区-张三 初一拜年,节后把计划发我")
    say(room.zhang, at(2026, 2, 24, 9, 30), "好的")
    assert run(R01, at(2026, 2, 25, 12, 0)) == []


# --- R01: who is addressed, what answers -----------------------------------------------------------


def test_a_mentioned_person_who_left_the_company_before_is_not_addressed(room, org):
    room.wang.employee.departure_date = datetime.date(2026, 10, 31)
    room.wang.employee.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@销售部-王五 @华东区-张三 交接一下")
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["张三"]


def test_a_mentioned_person_who_leaves_the_group_before_the_deadline_is_still_addressed(room):
    """Present at the message's time: addressed (docs: "joined before it … not left by then")."""
    room.wang.left_at = at(2026, 11, 2, 10, 10)
    room.wang.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@销售部-王五 把客户交接表发我")
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["王五"]


def test_the_leaders_own_messages_answer_nobody(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    say(room.leader, at(2026, 11, 2, 10, 5), "张三在吗?")
    say(room.leader, at(2026, 11, 2, 10, 6), "@销售部-李销售 提醒自己")  # mentions himself
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["张三"]


def test_a_leader_is_not_his_own_addressee_when_mentioned_with_everyone(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 @销售部-李销售 今天下班前交周报")
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["张三", "王五"]


def test_everyone_plus_a_named_outsider_and_a_named_engineer(room):
    member(room.group, "wx_guest", "客户-老赵")
    say(room.leader, at(2026, 11, 2, 10, 0), "@所有人 @客户-老赵 @技术部-孙七 明天验收")
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["wx_guest", "孙七", "张三", "王五"]


def test_mentioned_by_nickname_and_by_platform_id_is_one_hit(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@销售部-王五 @wx_wang 报表")
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["王五"]


def test_an_answer_from_the_employees_second_account_counts(room):
    """The export names the sender by the other account; the importer matched it to the employee."""
    say(room.leader, at(2026, 11, 2, 10, 0), "@销售部-王五 报表")
    say(room.wang, at(2026, 11, 2, 10, 10), "好的", platform_id="wx_wang_work")
    assert run(R01, at(2026, 11, 2, 12, 0)) == []


def test_an_answer_recalled_later_still_counts(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    say(room.zhang, at(2026, 11, 2, 10, 10), "好", recalled=True)
    assert run(R01, at(2026, 11, 2, 12, 0)) == []


def test_a_mention_in_the_middle_of_a_sentence_addresses_the_person(room):
    """WeChat and WeCom write a mention as "@名字" followed by U+2005 wherever it is typed: "麻烦@销售部-王五
    把合同发我" (no space before the @) is a directive to 王五 (docs/detection.md: mentions are the display
    names parsed from the text; R01: a leader's text that @-mentions someone). ``parse_mentions``
    only reads an @ at the start or after a space, so the message has no mention, no directive phrase,
    and 王五's silence is never reported."""
    say(room.leader, at(2026, 11, 2, 10, 0), "麻烦@销售部-王五\u2005把合同发我")
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["王五"]


def test_an_import_that_ends_before_the_deadline_does_not_judge_the_answers_it_has_not_seen(room, monkeypatch):
    """A WeChatMsg export made at 10:10 and imported later holds a directive of 10:05 (due 10:35) but
    not the answer 张三 gave at 10:20; the next export brings it. The import's detection runs with
    ``now`` = the wall clock (``detect_import`` → ``_plan(now=timezone.now())``), past 10:35, and
    stores "张三 … 未回复" from messages that end at 10:10. The answer imported next finds the key stored
    and the false suspicion stays. Expected (R01: an answer within 30 working minutes is on time): no
    R01 suspicion for 张三 once both exports are in — a deadline beyond the imported messages cannot be
    judged yet (the nightly deadline pass judges it later)."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: at(2026, 11, 2, 14, 0))  # imported after lunch
    say(room.leader, at(2026, 11, 2, 10, 5), "@华东区-张三 把客户回访表发我")
    say(room.wang, at(2026, 11, 2, 10, 10), "收到")
    first_export_end = at(2026, 11, 2, 10, 10) + datetime.timedelta(microseconds=1)
    detect_chat(since=at(2026, 11, 2, 10, 5), until=first_export_end, group_ids=[room.group.pk], detectors=[R01])
    say(room.zhang, at(2026, 11, 2, 10, 20), "好的,马上发")  # the next export
    detect_chat(
        since=at(2026, 11, 2, 10, 20), until=at(2026, 11, 2, 10, 21), group_ids=[room.group.pk], detectors=[R01]
    )
    assert not Violation.objects.filter(employee=room.zhang.employee, status=ViolationStatus.SUSPECTED).exists()


# --- R03 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "收到!",
        "收到！",
        "收到了",
        "已收到",
        "收到～",
        "收到👌",
        "收到,马上办",
        "好的呢",
        "ＯＫ",
        " １ ",
        "收到，没问题",
    ],
)
def test_acknowledgement_variants(room, reply):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), reply)
    assert run(R03, at(2026, 11, 3, 9, 0)) == []


@pytest.mark.parametrize("reply", ["还没收到", "未收到附件", "沒收到", "不了解", "收到?不对,是没收到"])
def test_negated_acknowledgements(room, reply):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), reply)
    assert people(run(R03, at(2026, 11, 3, 9, 0))) == ["张三"]


def test_meiyou_shoudao_is_a_negation(room):
    """ "没有收到" ("did not receive it") is the commonest way to say 没收到. docs/detection.md: "An
    acknowledgement phrase right after a negation (不, 没 …) is none"; the plain meaning of R03 is that
    the person confirms receipt. ``phrase_q(denied=True)`` only rejects the negation immediately before
    the phrase ("没收到"), so "没有收到" (and "并没有收到") acknowledge the notice."""
    say(room.leader, at(2026, 11, 2, 10, 0), NOTICE)
    say(room.zhang, at(2026, 11, 2, 10, 5), "没有收到附件")
    say(room.wang, at(2026, 11, 2, 10, 6), "并没有收到")
    say(room.sun, at(2026, 11, 2, 10, 7), "收到")
    assert people(run(R03, at(2026, 11, 2, 18, 1))) == ["张三", "王五"]


def test_a_standalone_shoudao_with_a_later_meishoudao_acknowledges(room):
    """docs/detection.md: "收到,不明白的地方再问" acknowledges ("its 收到 stands alone"): a denied phrase
    elsewhere does not undo a phrase that stands alone. "收到,但附件没收到" has such a 收到 at its start;
    ``phrase_q(denied=True)`` drops any message containing "没收到" anywhere, so it acknowledges nothing."""
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), "收到,但附件没收到,麻烦再发一次")
    assert run(R03, at(2026, 11, 3, 9, 0)) == []


@pytest.mark.parametrize("reply", ["Ｏｋ", "ｏＫ", "Ok"])
def test_mixed_case_ok_in_full_width(room, reply):
    """docs/detection.md: a plain-ASCII phrase must be the whole reply "in any case, half- or full-width as
    Chinese input methods write it". "Ｏｋ" (Shift+O, k in full-width mode) is OK in full width and mixed
    case; ``phrase_q`` only tries the phrase as written, all upper and all lower in full width, and
    SQLite's LIKE folds ASCII case only."""
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), reply)
    assert run(R03, at(2026, 11, 3, 9, 0)) == []


def test_an_exact_phrase_followed_by_a_full_width_space_is_trimmed(room):
    """A Chinese input method in full-width mode types U+3000 for a space: "１\u3000" is "１" with a space
    after it, which docs/detection.md says acknowledges once "trimmed". SQL ``TRIM`` removes only
    U+0020, so the reply is not the phrase."""
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), "１\u3000")
    assert run(R03, at(2026, 11, 3, 9, 0)) == []


def test_an_image_is_no_acknowledgement(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), None, kind="image")
    assert people(run(R03, at(2026, 11, 3, 9, 0))) == ["张三"]


def test_a_notice_on_a_worked_saturday_is_due_that_evening(room):
    say(room.leader, at(2026, 10, 10, 10, 0), "@华东区-张三 值班表已更新,请确认")
    [hit] = run(R03, at(2026, 10, 12, 9, 0))
    assert hit.details["deadline"] == at(2026, 10, 10, 18, 0).isoformat()


def test_a_notice_on_the_eve_of_the_spring_festival_is_due_after_it(room):
    say(room.leader, at(2026, 2, 14, 19, 0), "@华东区-张三 节后返岗安排,请确认")
    assert run(R03, at(2026, 2, 24, 18, 0)) == []
    [hit] = run(R03, at(2026, 2, 24, 18, 0, 1))
    assert hit.details["deadline"] == at(2026, 2, 24, 18, 0).isoformat()


def test_a_message_that_is_a_directive_and_a_notice_is_judged_by_both(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), "我晚点看")  # an answer (R01), not an acknowledgement (R03)
    assert run(R01, at(2026, 11, 3, 9, 0)) == []
    assert people(run(R03, at(2026, 11, 3, 9, 0))) == ["张三"]


def test_another_persons_acknowledgement_is_not_mine(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 @销售部-王五 方案已发,收到请回复")
    say(room.wang, at(2026, 11, 2, 10, 5), "收到,张三也收到了")
    assert people(run(R03, at(2026, 11, 3, 9, 0))) == ["张三"]


# --- through the runner: reruns and dismissals ----------------------------------------------------


def test_rerunning_r01_and_r03_across_the_deadline_stores_each_hit_once(room, monkeypatch):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把回访表发我,收到请回复")
    for now in (at(2026, 11, 2, 10, 20), at(2026, 11, 2, 11, 0), at(2026, 11, 2, 19, 0), at(2026, 11, 3, 19, 0)):
        monkeypatch.setattr("django.utils.timezone.now", lambda now=now: now)
        detect_chat(detectors=[R01, R03])
    assert sorted(Detection.objects.values_list("detector", flat=True)) == ["ack_missing", "directive_unanswered"]
    assert Violation.objects.filter(status=ViolationStatus.SUSPECTED).count() == 2


def test_a_dismissed_r01_suspicion_stays_dismissed_after_a_late_answer_is_imported(room, hr, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at(2026, 11, 3, 9, 0))
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把回访表发我")
    detect_chat(detectors=[R01])
    violation = Violation.objects.get()
    services.dismiss_violation(violation, "当面已回复", acting_user=hr)
    say(room.zhang, at(2026, 11, 2, 15, 0), "已发")
    detect_chat(detectors=[R01])
    assert Violation.objects.get().status == ViolationStatus.DISMISSED
    assert Detection.objects.count() == 1


def test_an_employee_who_departs_later_is_still_responsible_for_earlier_directives(room):
    room.wang.employee.departure_date = datetime.date(2026, 11, 20)
    room.wang.employee.status = "departed"
    room.wang.employee.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@销售部-王五 交接表")
    assert people(run(R01, at(2026, 11, 2, 12, 0))) == ["王五"]
    assert Employee.objects.get(pk=room.wang.employee_id).status == "departed"

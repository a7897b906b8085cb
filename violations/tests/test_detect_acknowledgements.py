"""R03 (``violations/detection/acknowledgements.py``): a notice asking for "收到" not acknowledged by
the end of the working day, on hand-built message sequences. 2026-11-02 is a Monday; 2026-09-25
(Friday) is the Mid-Autumn holiday; Saturday 2026-10-10 is worked (调休)."""

from __future__ import annotations

import pytest

from violations.detection import acknowledgements
from violations.detection.base import all_detectors
from violations.models import DirectiveSettings

from .conftest import at
from .responsiveness_data import member, people, run, say

pytestmark = pytest.mark.django_db
R03 = acknowledgements.DETECTOR
NOTICE = "@所有人 明天上午十点在三楼开会,收到请回复"


def detect(now, **kw):
    return run(R03, now, **kw)


def test_registered_with_the_contract():
    assert R03 in all_detectors()
    assert (R03.name, R03.rule_codes) == ("ack_missing", ("R03",))


def test_one_suspicion_per_person_gathered_per_notice(room):
    notice = say(room.leader, at(2026, 11, 2, 10, 0), NOTICE)
    say(room.zhang, at(2026, 11, 2, 10, 5), "收到!")
    say(room.wang, at(2026, 11, 2, 10, 6), "几楼?")  # a reply, but no acknowledgement
    found = detect(at(2026, 11, 2, 18, 1))
    # Every employee member: 王五, and 孙七 (技术部) too; not the sender.
    assert people(found) == ["孙七", "王五"]
    assert {h.details["notice_key"] for h in found} == {f"{room.group.pk}:{notice.natural_key}"}
    assert {h.details["notice_id"] for h in found} == {notice.pk}
    assert len({h.key for h in found}) == 2
    assert all(h.occurred_at == notice.sent_at and h.message_ids == (notice.pk,) for h in found)
    assert found[0].reason.endswith("未在 2026-11-02 18:00:00 下班前回复确认")
    assert found[0].reason.startswith("李销售 于 2026-11-02 10:00:00 发布的通知要求回复确认")


def test_due_at_the_end_of_the_working_day(room):
    say(room.leader, at(2026, 11, 2, 10, 0), NOTICE)
    assert detect(at(2026, 11, 2, 17, 59)) == []
    assert detect(at(2026, 11, 2, 18, 0)) == []  # an acknowledgement at 18:00:00 is still on time
    assert len(detect(at(2026, 11, 2, 18, 0, 1))) == 3


def test_acknowledged_exactly_at_the_end_of_the_day(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 报价已更新,请确认")
    say(room.zhang, at(2026, 11, 2, 18, 0), "已阅")
    assert detect(at(2026, 11, 3, 9, 0)) == []


def test_a_late_acknowledgement_is_a_hit_with_its_time(room):
    notice = say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 报价已更新,请确认")
    ack = say(room.zhang, at(2026, 11, 2, 18, 0, 1), "收到")
    [hit] = detect(at(2026, 11, 3, 9, 0))
    assert hit.message_ids == (notice.pk, ack.pk)
    assert "张三 到 2026-11-02 18:00:01 才确认" in hit.reason
    assert hit.details["acknowledged_at"] == at(2026, 11, 2, 18, 0, 1).isoformat()


def test_a_notice_after_work_is_due_at_the_end_of_the_next_working_day(room):
    say(room.leader, at(2026, 11, 2, 18, 0), "@华东区-张三 报价已更新,请确认")
    say(room.zhang, at(2026, 11, 3, 17, 0), "好的")
    assert detect(at(2026, 11, 4, 9, 0)) == []
    say(room.leader, at(2026, 11, 2, 20, 0), "@销售部-王五 报价已更新,请确认")
    [hit] = detect(at(2026, 11, 4, 9, 0))
    assert hit.details["deadline"] == at(2026, 11, 3, 18, 0).isoformat()


def test_a_notice_before_work_is_due_the_same_day(room):
    say(room.leader, at(2026, 11, 2, 7, 30), "@华东区-张三 报价已更新,请确认")
    [hit] = detect(at(2026, 11, 3, 9, 0))
    assert hit.details["deadline"] == at(2026, 11, 2, 18, 0).isoformat()


def test_a_notice_before_a_holiday(room):
    say(room.leader, at(2026, 9, 24, 19, 0), "@华东区-张三 节后安排见附件,请确认")  # 25th: 中秋节
    assert detect(at(2026, 9, 28, 17, 0)) == []
    [hit] = detect(at(2026, 9, 28, 18, 1))
    assert hit.details["deadline"] == at(2026, 9, 28, 18, 0).isoformat()


def test_a_notice_on_friday_evening_before_a_worked_saturday(room):
    say(room.leader, at(2026, 10, 9, 19, 0), "@华东区-张三 明天加班安排,请确认")
    [hit] = detect(at(2026, 10, 12, 9, 0))
    assert hit.details["deadline"] == at(2026, 10, 10, 18, 0).isoformat()


@pytest.mark.parametrize(
    ("reply", "acknowledges"),
    [("1", True), (" ok ", True), ("OK", True), ("收到,马上执行", True), ("好的", True), ("明白了", True),
     ("11", False), ("第1条有问题", False), ("book", False), ("我问一下", False)],
)  # fmt: skip
def test_what_acknowledges(room, reply, acknowledges):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), reply)
    assert (detect(at(2026, 11, 3, 9, 0)) == []) is acknowledges


def test_any_reply_acknowledges_is_a_setting(room):
    settings = DirectiveSettings.load()
    settings.any_reply_acknowledges = True
    settings.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), "我问一下")
    assert detect(at(2026, 11, 3, 9, 0)) == []


def test_the_phrase_lists_are_settings(room):
    settings = DirectiveSettings.load()
    settings.ack_request_phrases = ["请回执"]
    settings.ack_phrases = ["已收悉"]
    settings.save()
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")  # no longer a notice
    say(room.leader, at(2026, 11, 2, 10, 1), "@华东区-张三 @销售部-王五 新制度已发,请回执")
    say(room.zhang, at(2026, 11, 2, 10, 5), "已收悉")
    say(room.wang, at(2026, 11, 2, 10, 5), "收到")
    assert people(detect(at(2026, 11, 3, 9, 0))) == ["王五"]


def test_a_group_admin_sends_notices(room, org):
    # 孙七 is an admin of 销售部工作群 (ChatGroup.admins).
    say(room.sun, at(2026, 11, 2, 10, 0), "@华东区-张三 门禁卡今天更换,收到请回复")
    assert people(detect(at(2026, 11, 3, 9, 0))) == ["张三"]
    settings = DirectiveSettings.load()
    settings.admins_send_notices = False
    settings.save()
    assert detect(at(2026, 11, 3, 9, 0)) == []


def test_a_membership_admin_flag_sends_notices(room, org):
    room.wang.is_admin = True
    room.wang.save()
    say(room.wang, at(2026, 11, 2, 10, 0), "@华东区-张三 门禁卡今天更换,收到请回复")
    assert people(detect(at(2026, 11, 3, 9, 0))) == ["张三"]


def test_an_ordinary_member_sends_no_notices(room):
    say(room.zhang, at(2026, 11, 2, 10, 0), "@所有人 周五聚餐,收到请回复")
    assert detect(at(2026, 11, 3, 9, 0)) == []


def test_an_acknowledgement_in_another_group_does_not_count(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    say(room.zhang, at(2026, 11, 2, 10, 5), "收到", group=room.other)
    assert people(detect(at(2026, 11, 3, 9, 0))) == ["张三"]


def test_a_recalled_notice_is_no_notice(room):
    say(room.leader, at(2026, 11, 2, 10, 0), NOTICE, recalled=True)
    assert detect(at(2026, 11, 3, 9, 0)) == []


def test_people_who_left_or_joined_later_are_not_addressed(room, org):
    room.wang.left_at = at(2026, 11, 2, 9, 0)
    room.wang.save()
    member(room.group, "wx_chen", "技术部-陈技术", org["tech_head"], joined_at=at(2026, 11, 2, 11, 0))
    member(room.group, "wx_guest", "客户-老赵")  # an outsider: not addressed by @所有人
    say(room.leader, at(2026, 11, 2, 10, 0), NOTICE)
    assert people(detect(at(2026, 11, 3, 9, 0))) == ["孙七", "张三"]


def test_unmatched_sender_sends_no_notice(room):
    say(None, at(2026, 11, 2, 10, 0), NOTICE, group=room.group, platform_id="wx_stranger")
    assert detect(at(2026, 11, 3, 9, 0)) == []


def test_two_runs_give_the_same_keys(room):
    say(room.leader, at(2026, 11, 2, 10, 0), NOTICE)
    say(room.leader, at(2026, 11, 3, 10, 0), NOTICE)
    first = [h.key for h in detect(at(2026, 11, 4, 9, 0))]
    assert len(first) == 6 and len(set(first)) == 6
    assert first == [h.key for h in detect(at(2026, 11, 4, 9, 0))]


def test_run_before_the_deadline_then_after(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 方案已发,收到请回复")
    assert detect(at(2026, 11, 2, 12, 0)) == []
    first = detect(at(2026, 11, 2, 19, 0))
    assert len(first) == 1
    assert [h.key for h in first] == [h.key for h in detect(at(2026, 11, 5, 9, 0))]


def test_a_denied_acknowledgement_is_none(room):
    """Replies "没收到" and "不明白" contain "收到" and "明白" but acknowledge nothing."""
    say(room.leader, at(2026, 11, 2, 10, 0), NOTICE)
    say(room.zhang, at(2026, 11, 2, 10, 5), "没收到附件")
    say(room.wang, at(2026, 11, 2, 10, 6), "不明白,几楼?")
    say(room.sun, at(2026, 11, 2, 10, 7), "收到,不明白的地方再问")  # an acknowledgement all the same
    assert people(detect(at(2026, 11, 2, 18, 1))) == ["张三", "王五"]


def test_full_width_and_one_character_acknowledgements(room):
    """Chinese input methods write "１" and "ＯＫ" in full width; "好" alone acknowledges (a default)."""
    say(room.leader, at(2026, 11, 2, 10, 0), NOTICE)
    say(room.zhang, at(2026, 11, 2, 10, 5), "１")
    say(room.wang, at(2026, 11, 2, 10, 6), "ｏｋ")
    say(room.sun, at(2026, 11, 2, 10, 7), "好")
    assert detect(at(2026, 11, 2, 18, 1)) == []


def test_the_look_around_regex_runs_only_where_it_can_fail():
    """phrase_q skips the look-around regex where the plain one finds no negation or question mark
    at a phrase: over every short text of phrases, negations, question marks and filler, that
    shortcut gives what the look-around regex alone gives."""
    import itertools
    import re

    from violations.detection.responsiveness import _maybe_denied, _not_denied

    phrases = ["收到", "执行", "马上执行", "知道了"]
    full, plain = re.compile(_not_denied(phrases)), re.compile(_maybe_denied(phrases))
    pieces = ["收到", "执行", "马上", "知道了", "没", "有", "不", "?", "吗", ",", "好"]
    checked = 0
    for size in range(1, 5):
        for parts in itertools.product(pieces, repeat=size):
            text = "".join(parts)
            if not any(p in text for p in phrases):
                continue
            checked += 1
            shortcut = not plain.search(text) or bool(full.search(text))
            assert shortcut == bool(full.search(text)), text
    assert checked > 5000

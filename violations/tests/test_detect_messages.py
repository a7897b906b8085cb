"""C09 long text, B05 red envelopes, C10 flooding on hand-built sequences, with the edge cases."""

import datetime

import pytest
from django.utils import timezone

from groups.models import Membership
from violations.detection import flooding, long_message, redpacket
from violations.models import CompanySettings

from .detection_helpers import at, found, msg, window

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(org):
    return org["sales_group"]


# --- C09 ------------------------------------------------------------------------------------------


def test_long_text_is_over_the_limit_only(group, org):
    msg(group, "wx_a", at(2026, 11, 3, 10), text="字" * 200)  # exactly the limit: fine
    over = msg(group, "wx_a", at(2026, 11, 3, 10, 1), text="字" * 201, employee=org["east_rep"])
    hits = found(long_message.DETECTOR)
    assert [h.message_ids[0] for h in hits] == [over.pk]
    assert hits[0].details == {"length": 201, "limit": 200}
    assert "201" in hits[0].reason and hits[0].rule_code == "C09"


def test_long_text_counts_characters_not_bytes_and_follows_the_setting(group):
    settings = CompanySettings.load()
    settings.max_message_length = 10
    settings.save()
    msg(group, "wx_a", at(2026, 11, 3, 10), text="中文字符共十个字呀呀")  # 10 characters, 30 bytes
    eleven = msg(group, "wx_a", at(2026, 11, 3, 10, 1), text="abcdefghijk")
    assert [h.message_ids[0] for h in found(long_message.DETECTOR)] == [eleven.pk]


def test_links_files_recalled_and_purged_texts_are_not_read(group):
    long = "字" * 300
    msg(group, "wx_a", at(2026, 11, 3, 10), kind="link", text=long, link_url="https://example.com/a")
    msg(group, "wx_a", at(2026, 11, 3, 10, 1), kind="file", text=long)
    msg(group, "wx_a", at(2026, 11, 3, 10, 2), text=long, recalled=True)  # a recall hides the text
    msg(group, "wx_a", at(2026, 11, 3, 10, 3), text=None, purged_at=timezone.now())
    assert found(long_message.DETECTOR) == []


def test_a_text_that_is_only_a_long_link_is_a_link(group):
    url = "https://docs.example.com/d/" + "a1" * 150
    msg(group, "wx_a", at(2026, 11, 3, 10), text=f"  {url}\n")
    with_words = msg(group, "wx_a", at(2026, 11, 3, 10, 1), text=f"请看 {url}")
    assert [h.message_ids[0] for h in found(long_message.DETECTOR)] == [with_words.pk]


def test_two_identical_long_texts_from_two_people(group):
    msg(group, "wx_a", at(2026, 11, 3, 10), text="字" * 250)
    msg(group, "wx_b", at(2026, 11, 3, 10), text="字" * 250)
    assert len({h.key for h in found(long_message.DETECTOR)}) == 2


# --- B05 ------------------------------------------------------------------------------------------


def test_red_envelopes_of_a_member_who_left_and_of_an_unmatched_sender(group, org):
    rep = org["east_rep"]
    Membership.objects.create(
        group=group, platform_id="wx_zhangsan", nickname="销售部-张三", employee=rep, left_at=timezone.now()
    )
    left = msg(group, "wx_zhangsan", at(2026, 11, 3, 10), kind="redpacket", text=None, employee=rep)
    stranger = msg(group, "wx_x", at(2026, 11, 3, 11), kind="redpacket", text=None, recalled=True)
    msg(group, "wx_a", at(2026, 11, 3, 12), text="谢谢红包")  # talking about one is no red envelope
    hits = found(redpacket.DETECTOR)
    assert [(h.message_ids[0], h.employee_id) for h in hits] == [(left.pk, rep.pk), (stranger.pk, None)]
    assert all(h.rule_code == "B05" for h in hits)


def test_red_envelopes_from_the_three_readers_are_one_kind(org, tmp_path, hr):
    from groups.chat.store import import_chat_file
    from groups.tests.chat_helpers import WECOM, wecom_group

    group = wecom_group(org)
    job = import_chat_file(WECOM, group=group, acting_user=hr)
    assert job.status == "done"
    hits = found(redpacket.DETECTOR, window(groups=[group.pk]))
    assert len(hits) == 1 and hits[0].sender_platform_id == "ZhangSan"


# --- C10 ------------------------------------------------------------------------------------------


def _limits(messages=3, images=2, seconds=60):
    settings = CompanySettings.load()
    settings.flood_max_messages, settings.flood_max_images, settings.flood_window_seconds = messages, images, seconds
    settings.save()


def _series(group, sender, start, count, step, **kw):
    return [msg(group, sender, start + datetime.timedelta(seconds=step * i), **kw) for i in range(count)]


def test_more_than_n_messages_within_m_seconds_is_one_burst(group, org):
    _limits(messages=3)
    burst = _series(group, "wx_a", at(2026, 11, 3, 10), 8, 5, employee=org["east_rep"])  # 8 in 35 s
    hits = found(flooding.DETECTOR)
    assert len(hits) == 1
    hit = hits[0]
    assert hit.message_ids[0] == burst[0].pk  # keyed and evidenced by the burst's first message
    assert hit.occurred_at == burst[3].sent_at  # when the limit was crossed
    assert hit.details["count"] == 8 and hit.details["kind"] == "messages"
    assert hit.employee_id == org["east_rep"].pk and hit.rule_code == "C10"


def test_exactly_n_messages_is_no_flood_and_the_boundary_second_is(group):
    _limits(messages=3, seconds=60)
    start = at(2026, 11, 3, 10)
    _series(group, "wx_a", start, 3, 20)  # 3 messages: not more than 3
    assert found(flooding.DETECTOR) == []
    # a 4th exactly 60 s after the first: 4 within 60 s (inclusive)
    msg(group, "wx_a", start + datetime.timedelta(seconds=60))
    assert len(found(flooding.DETECTOR)) == 1


def test_one_second_over_the_window_is_no_flood(group):
    _limits(messages=3, seconds=60)
    start = at(2026, 11, 3, 10)
    _series(group, "wx_a", start, 3, 20)
    msg(group, "wx_a", start + datetime.timedelta(seconds=61))
    assert found(flooding.DETECTOR) == []


def test_two_bursts_two_hits_and_people_are_counted_apart(group):
    _limits(messages=3, seconds=60)
    _series(group, "wx_a", at(2026, 11, 3, 10), 5, 2)
    _series(group, "wx_a", at(2026, 11, 3, 11), 5, 2)
    # two people talking at once: 3 each, 6 together, no one floods
    _series(group, "wx_b", at(2026, 11, 3, 12), 3, 2, text="收到")
    _series(group, "wx_c", at(2026, 11, 3, 12), 3, 2, text="收到")
    hits = found(flooding.DETECTOR)
    assert len(hits) == 2 and {h.sender_platform_id for h in hits} == {"wx_a"}
    assert len({h.key for h in hits}) == 2


def test_images_have_their_own_limit_and_system_lines_do_not_count(group):
    _limits(messages=10, images=2)
    start = at(2026, 11, 3, 10)
    _series(group, "wx_a", start, 3, 1, kind="image", text=None)
    _series(group, "", start, 20, 1, kind="system", text="加入群聊")
    hits = found(flooding.DETECTOR)
    assert [h.details["kind"] for h in hits] == ["images"]
    assert "3 张图片" in hits[0].reason


def test_recalled_messages_still_count_as_sent(group):
    _limits(messages=3)
    _series(group, "wx_a", at(2026, 11, 3, 10), 4, 1, recalled=True)
    assert len(found(flooding.DETECTOR)) == 1


def test_a_flood_found_in_the_window_it_crossed_the_limit(group):
    _limits(messages=3, seconds=60)
    start = at(2026, 11, 3, 23, 59, 50)
    _series(group, "wx_a", start, 6, 5)  # crosses the limit at 00:00:05, the next day
    day_one = found(flooding.DETECTOR, window(since=at(2026, 11, 3), until=at(2026, 11, 4)))
    day_two = found(flooding.DETECTOR, window(since=at(2026, 11, 4), until=at(2026, 11, 5)))
    assert day_one == [] and len(day_two) == 1

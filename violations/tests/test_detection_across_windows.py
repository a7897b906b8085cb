"""Detections that must not depend on how the messages were cut into windows and imports: a flood
across a window's start, earlier messages imported later, an advertisement repeated after its first
post's body was purged, a URL written against Chinese text or punctuation."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from groups.chat.retention import purge_chat_bodies
from violations.detection import advertising, flooding, keywords
from violations.models import CompanySettings, LexiconEntry, Rule, Violation
from violations.services.detection import detect_chat

from .detection_helpers import at, found, msg, window

pytestmark = pytest.mark.django_db
SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def group(org):
    return org["sales_group"]


def limits(messages=3, images=5, seconds=60):
    s = CompanySettings.load()
    s.flood_max_messages, s.flood_max_images, s.flood_window_seconds = messages, images, seconds
    s.save()


# --- C10 ---------------------------------------------------------------------------------------------


def test_flood_across_a_window_start_is_found_in_one_window_only(group):
    """Limit 3 in 60 s: the flood crosses the limit at -20 s and goes on past the start."""
    limits()
    start = at(2026, 11, 3, 12)
    for s in (-64, -40, -20, -5, 5):
        msg(group, "wx_a", start + s * SECOND)
    hour = datetime.timedelta(hours=1)
    before = found(flooding.DETECTOR, window(since=start - hour, until=start))
    after = found(flooding.DETECTOR, window(since=start, until=start + hour))
    (whole,) = found(flooding.DETECTOR, window(since=start - hour, until=start + hour))
    assert [h.key for h in before] == [whole.key] and after == []


def test_flood_found_in_the_later_window_when_it_crosses_the_limit_there(group):
    limits()
    start = at(2026, 11, 3, 12)
    for s in (-30, -20, -10, 5, 6):
        msg(group, "wx_a", start + s * SECOND)
    hour = datetime.timedelta(hours=1)
    assert found(flooding.DETECTOR, window(since=start - hour, until=start)) == []
    (hit,) = found(flooding.DETECTOR, window(since=start, until=start + hour))
    assert hit.occurred_at == start + 5 * SECOND and hit.details["count"] == 5


def test_adjacent_import_windows_store_one_suspicion(group, org):
    limits()
    start = at(2026, 11, 3, 12)
    for s in (-64, -40, -20, -5, 5):
        msg(group, "wx_zhangsan", start + s * SECOND, employee=org["east_rep"])
    hour = datetime.timedelta(hours=1)
    detect_chat(since=start - hour, until=start, detectors=[flooding.DETECTOR], trigger="test")
    detect_chat(since=start, until=start + hour, detectors=[flooding.DETECTOR], trigger="test")
    detect_chat(detectors=[flooding.DETECTOR], trigger="test")
    assert Violation.objects.count() == 1


def test_earlier_messages_imported_later_do_not_make_the_flood_a_second_suspicion(group, org):
    limits()
    t0 = at(2026, 11, 3, 10)
    for s in (0, 5, 10, 15):
        msg(group, "wx_zhangsan", t0 + s * SECOND, employee=org["east_rep"])
    detect_chat(detectors=[flooding.DETECTOR], trigger="test")
    (suspicion,) = Violation.objects.all()
    suspicion.status, suspicion.dismissed_reason = "dismissed", "误报:群接龙"
    suspicion.save()
    msg(group, "wx_zhangsan", t0 - 5 * SECOND, employee=org["east_rep"])  # an earlier export of the chat
    detect_chat(detectors=[flooding.DETECTOR], trigger="test")
    assert list(Violation.objects.values_list("status", flat=True)) == ["dismissed"]
    # another flood of the same sender later on is a new suspicion
    for s in range(4):
        msg(group, "wx_zhangsan", t0 + datetime.timedelta(minutes=30) + s * SECOND, employee=org["east_rep"])
    detect_chat(detectors=[flooding.DETECTOR], trigger="test")
    assert sorted(Violation.objects.values_list("status", flat=True)) == ["dismissed", "suspected"]


# --- C06 ---------------------------------------------------------------------------------------------


def occurrences(win=None):
    return [h.details["occurrence"] for h in found(advertising.DETECTOR, win)]


def test_the_same_link_against_chinese_text_or_punctuation_is_the_same_ad(group):
    t0 = at(2026, 11, 3, 10)
    texts = [
        "优惠券 https://shop.example.com/p/1 快来",
        "优惠券 https://shop.example.com/p/1快来领取",
        "优惠券见 https://shop.example.com/p/1.",
        "优惠券见(https://shop.example.com/p/1)",
        "优惠券见 https://shop.example.com/p/1。",
    ]
    for i, text in enumerate(texts):
        msg(group, "a", t0 + datetime.timedelta(minutes=i), text=text)
    assert occurrences() == [1, 2, 3, 4, 5]


def test_a_repeat_after_the_first_posts_body_was_purged_is_still_a_repeat(group, org):
    old_at = timezone.now() - datetime.timedelta(days=200)
    old = msg(group, "wx_zhangsan", old_at, text="扫码领取优惠券", employee=org["east_rep"])
    detect_chat(since=old_at - SECOND, until=old_at + SECOND, detectors=[advertising.DETECTOR], trigger="test")
    purge_chat_bodies()
    old.refresh_from_db()
    assert old.purged_at is not None and old.text is None
    new_at = timezone.now() - datetime.timedelta(hours=1)
    msg(group, "wx_zhangsan", new_at, text="扫码领取优惠券", employee=org["east_rep"])
    (repeat,) = found(advertising.DETECTOR, window(since=new_at - SECOND))
    assert repeat.details["occurrence"] == 2 and repeat.details["first_message_id"] == old.pk
    # another ad of the same sender is a first post all the same
    msg(group, "wx_zhangsan", new_at + SECOND, text="扫码领取优惠券 https://shop.example.com/x")
    assert occurrences(window(since=new_at - SECOND)) == [2, 1]


# --- keywords: domains --------------------------------------------------------------------------------


def test_a_domain_written_against_chinese_text(group):
    LexiconEntry.objects.create(rule=Rule.objects.get(code="C02"), kind="domain", text="bad.example.net")
    hit_msg = msg(group, "a", at(2026, 11, 3, 10, 1), text="打开 https://bad.example.net领取")
    msg(group, "a", at(2026, 11, 3, 10, 2), text="打开 https://bad.example.network/x")
    assert [h.message_ids[0] for h in found(keywords.DETECTOR)] == [hit_msg.pk]

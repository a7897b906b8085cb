"""B06 quiet hours: the boundaries, midnight, group overrides, system lines, recalls, unmatched senders."""

import datetime

import pytest

from violations.detection.quiet_hours import DETECTOR
from violations.models import CompanySettings, GroupDetectionSettings

from .detection_helpers import at, found, msg, window

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(org):
    return org["sales_group"]


def test_the_boundaries_of_23_30_to_07_30(group, org):
    rep = org["east_rep"]
    inside = [
        msg(group, "wx_zhangsan", at(2026, 11, 3, 23, 30, 0), employee=rep),  # exactly the start: inside
        msg(group, "wx_zhangsan", at(2026, 11, 4, 0, 0, 0), employee=rep),  # midnight
        msg(group, "wx_zhangsan", at(2026, 11, 4, 7, 29, 59), employee=rep),  # one second before the end
    ]
    msg(group, "wx_zhangsan", at(2026, 11, 3, 23, 29, 59), employee=rep)  # one second before the start
    msg(group, "wx_zhangsan", at(2026, 11, 4, 7, 30, 0), employee=rep)  # exactly the end: outside
    msg(group, "wx_zhangsan", at(2026, 11, 4, 12, 0, 0), employee=rep)
    hits = found(DETECTOR)
    assert [h.message_ids[0] for h in hits] == [m.pk for m in inside]
    assert all(h.rule_code == "B06" and h.employee_id == rep.pk for h in hits)
    assert "23:30–07:30" in hits[0].reason


def test_utc_storage_is_judged_in_china_time(group):
    # 15:45 UTC is 23:45 in Shanghai
    msg(group, "wx_a", datetime.datetime(2026, 11, 3, 15, 45, tzinfo=datetime.UTC))
    msg(group, "wx_a", datetime.datetime(2026, 11, 3, 23, 45, tzinfo=datetime.UTC))  # 07:45 next morning
    assert len(found(DETECTOR)) == 1


def test_system_lines_and_recall_events_do_not_count_but_a_recalled_message_does(group):
    msg(group, "", at(2026, 11, 3, 23, 40), kind="system", text="张三加入了群聊")
    msg(group, "wx_a", at(2026, 11, 3, 23, 41), kind="recall", text=None, recalls="k0")
    recalled = msg(group, "wx_a", at(2026, 11, 3, 23, 42), recalled=True)
    assert [h.message_ids[0] for h in found(DETECTOR)] == [recalled.pk]


def test_a_group_of_its_own_hours_and_one_without(group, org):
    other = org["tech_group"]
    GroupDetectionSettings.objects.create(
        group=group, quiet_hours_start=datetime.time(22, 0), quiet_hours_end=datetime.time(7, 30)
    )
    GroupDetectionSettings.objects.create(group=other, quiet_hours_off=True)
    ten_pm = msg(group, "wx_a", at(2026, 11, 3, 22, 0))
    msg(other, "wx_b", at(2026, 11, 3, 23, 50))  # no quiet hours in this group
    hits = found(DETECTOR)
    assert [h.message_ids[0] for h in hits] == [ten_pm.pk]
    assert "22:00–07:30" in hits[0].reason


def test_company_hours_within_one_day(group):
    settings = CompanySettings.load()
    settings.quiet_hours_start, settings.quiet_hours_end = datetime.time(1, 0), datetime.time(6, 0)
    settings.save()
    msg(group, "wx_a", at(2026, 11, 3, 0, 59, 59))
    inside = msg(group, "wx_a", at(2026, 11, 3, 1, 0))
    msg(group, "wx_a", at(2026, 11, 3, 6, 0))
    assert [h.message_ids[0] for h in found(DETECTOR)] == [inside.pk]


def test_unmatched_sender_and_the_window(group):
    unmatched = msg(group, "wx_stranger", at(2026, 11, 3, 23, 50))
    msg(group, "wx_stranger", at(2026, 11, 5, 23, 50))
    hits = found(DETECTOR, window(since=at(2026, 11, 3), until=at(2026, 11, 4)))
    assert [(h.message_ids[0], h.employee_id, h.sender_platform_id) for h in hits] == [
        (unmatched.pk, None, "wx_stranger")
    ]


def test_two_identical_messages_from_two_people_are_two_hits(group):
    msg(group, "wx_a", at(2026, 11, 3, 23, 50), text="晚安")
    msg(group, "wx_b", at(2026, 11, 3, 23, 50), text="晚安")
    hits = found(DETECTOR)
    assert len({h.key for h in hits}) == 2
    assert {h.sender_platform_id for h in hits} == {"wx_a", "wx_b"}

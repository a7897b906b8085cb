"""Chat imports through the store service and the command: idempotence, overlap, recalls, sender
matching, no partial writes, chats in a file, retention purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import IntegrityError

from groups.chat import store
from groups.chat.models import ChatImport, ChatMessage
from groups.chat.retention import purge_chat_bodies
from groups.choices import ImportStatus
from groups.models import RosterSettings

from .chat_helpers import QQ, QQ_GBK, ROOM, WECHAT, WECOM, member, qq_group, wecom_group, wecom_lines, wecom_row

pytestmark = pytest.mark.django_db


def run(path, group, platform="", **kw):
    return store.import_chat_file(path, group=group, acting_user=None, platform=platform, **kw)


def test_wecom_sample_imports_with_recall(org):
    group = wecom_group(org)
    job = run(WECOM, group)
    assert job.status == ImportStatus.DONE and job.platform == "wecom"
    assert (job.message_count, job.created_count) == (6, 6)
    assert job.first_sent_at == datetime(2026, 11, 2, 1, 0, 5, tzinfo=UTC)
    assert job.preview["skipped"] == {"switch": 1}
    ad = ChatMessage.objects.get(natural_key="10003_1793584800000")
    # the recalled ad keeps its text (evidence: posting it is the breach) and records the recall
    assert ad.recalled and ad.recalled_at == datetime(2026, 11, 2, 2, 0, 30, tzinfo=UTC)
    assert ad.link_url == "http://example.com/ad"
    recall = ChatMessage.objects.get(kind="recall")
    assert recall.recalls == ad.natural_key and not recall.recalled
    assert ChatMessage.objects.filter(recalled=True).count() == 1
    assert LogEntry.objects.filter(object_pk=str(job.pk), content_type__model="chatimport").exists()


def test_reimport_and_overlap_add_nothing_twice(org, tmp_path):
    group = wecom_group(org)
    first = tmp_path / "part1.jsonl"
    first.write_text(wecom_lines(1, 2, 3), encoding="utf-8")
    assert run(first, group).created_count == 3
    again = run(first, group)
    assert (again.message_count, again.created_count, again.preview["duplicates"]) == (3, 0, 3)
    overlap = run(WECOM, group)  # lines 1-3 again, plus 4-6
    assert (overlap.created_count, overlap.preview["duplicates"]) == (3, 3)
    assert ChatMessage.objects.filter(group=group).count() == 6
    # the recall came in a later file than the ad: still applied
    assert ChatMessage.objects.get(natural_key="10003_1793584800000").recalled


def test_recall_before_its_message(org, tmp_path):
    group = wecom_group(org)
    recall_only = tmp_path / "recall.jsonl"
    recall_only.write_text(wecom_lines(4), encoding="utf-8")
    run(recall_only, group)
    run(WECOM, group)
    assert ChatMessage.objects.get(natural_key="10003_1793584800000").recalled


def test_same_keys_in_two_groups_are_two_messages(org):
    group = wecom_group(org)
    run(WECOM, group)
    other = org["sales_group"]  # no 群ID: the file's one room is taken
    assert run(WECOM, other, platform="wecom").created_count == 6
    assert ChatMessage.objects.count() == 12


def test_senders_matched_by_platform_ids_never_by_name(org):
    group = wecom_group(org)
    org["east_rep"].wecom_id = "ZhangSan"
    org["east_rep"].save()
    boss = member(group, "WangJingLi", "销售中心-王经理", employee=org["sales_head"])
    org["tech_dev"].name = "LiSi"  # the display name alone never matches
    org["tech_dev"].save()
    job = run(WECOM, group, dry_run=True)
    assert job.status == ImportStatus.PREVIEWED and not ChatMessage.objects.exists()
    senders = {s["id"]: s for s in job.preview["senders"]}
    assert senders["ZhangSan"]["matched"] and senders["ZhangSan"]["employee"] == "张三(E0101)"
    assert senders["WangJingLi"]["member"] and senders["WangJingLi"]["employee"] == "李销售(E0100)"
    assert not senders["LiSi"]["matched"]
    assert (job.matched_senders, job.unmatched_senders) == (2, 1)
    store.run_chat_import(job, acting_user=None, path=WECOM)
    assert set(ChatMessage.objects.filter(sender_platform_id="ZhangSan").values_list("employee", flat=True)) == {
        org["east_rep"].pk
    }
    directive = ChatMessage.objects.get(natural_key="10001_1793581205000")
    assert (directive.membership, directive.employee) == (boss, org["sales_head"])
    unmatched = ChatMessage.objects.filter(sender_platform_id="LiSi")
    assert unmatched.count() == 2 and not unmatched.filter(employee__isnull=False).exists()  # kept, not dropped


def test_open_membership_wins_over_a_left_one(org):
    group = org["sales_group"]
    left = member(group, "wxid_zhangsan88", "张三(旧)", employee=org["east_departed"])
    left.left_at = datetime(2026, 10, 1, tzinfo=UTC)
    left.save()
    current = member(group, "wxid_zhangsan88", "销售部-张三", employee=org["east_rep"])
    run(WECHAT, group)
    assert set(
        ChatMessage.objects.filter(sender_platform_id="wxid_zhangsan88").values_list("membership", flat=True)
    ) == {current.pk}


def test_wechat_sample(org):
    group = org["sales_group"]
    org["sales_head"].wechat_id = "wxid_wangjl01"
    org["sales_head"].save()
    job = run(WECHAT, group)
    assert (job.platform, job.message_count, job.created_count) == ("wechat", 9, 9)
    assert job.unmatched_senders == 4  # me, 张三 and 李四 (other wxids in the roster) and the one who left
    system = ChatMessage.objects.get(natural_key="7:1")
    assert system.kind == "system" and system.sender_platform_id == ""
    assert ChatMessage.objects.filter(employee=org["sales_head"]).count() == 2
    assert run(WECHAT, group).created_count == 0


def test_qq_blocks_pick_the_group(org):
    group = qq_group(org)
    job = run(QQ_GBK, group)
    assert job.encoding == "gb18030" and job.preview["chats"] == ["销售中心工作群"]
    assert (job.message_count, job.preview["skipped"]) == (6, {"other_chat": 1})
    assert ChatMessage.objects.filter(text="收到").count() == 2  # identical repeats in one second: both kept
    assert run(QQ, group).created_count == 5  # another export of the same chat, other messages
    assert ChatMessage.objects.filter(group=group, kind="system").count() == 2


def test_several_chats_none_matching_refused(org):
    group = qq_group(org, name="别的名字")
    job = run(QQ_GBK, group)
    assert job.status == ImportStatus.INVALID and "多个会话" in job.errors[0]
    assert not ChatMessage.objects.exists()


def test_wecom_room_must_be_the_groups(org, tmp_path):
    group = wecom_group(org)
    path = tmp_path / "other.jsonl"
    path.write_text(wecom_row("x1", roomid="wrOTHER") + "\n", encoding="utf-8")
    job = run(path, group)
    assert job.status == ImportStatus.INVALID and ROOM in job.errors[0]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(wecom_row("x1", roomid="wrOTHER") + "\n" + wecom_row("x2") + "\n", encoding="utf-8")
    job = run(mixed, group)
    assert job.created_count == 1 and job.preview["skipped"] == {"other_chat": 1}


def test_bad_file_refused_whole(org, tmp_path):
    group = wecom_group(org)
    path = tmp_path / "bad.jsonl"
    path.write_text(wecom_lines(1, 2) + '{"msgid": "z", "action": "send", "roomid": "r"}\n', encoding="utf-8")
    job = run(path, group)
    assert job.status == ImportStatus.INVALID
    assert job.errors == ["第3行, from: 缺少发送人"]
    assert not ChatMessage.objects.exists()


def test_no_partial_write_when_the_database_refuses(org, monkeypatch):
    group = wecom_group(org)
    monkeypatch.setattr(store, "BATCH", 2)
    calls = []
    real = ChatMessage.objects.bulk_create

    def failing(rows, **kw):
        calls.append(len(rows))
        if len(calls) == 2:
            raise IntegrityError("boom")
        return real(rows, **kw)

    monkeypatch.setattr(ChatMessage.objects, "bulk_create", failing)
    monkeypatch.setattr(store, "use_copy", lambda: False)  # the batched path (PostgreSQL: one COPY)
    with pytest.raises(IntegrityError):
        run(WECOM, group)
    assert calls == [2, 2] and not ChatMessage.objects.exists()  # the first batch was rolled back
    assert ChatImport.objects.get().status == ImportStatus.PREVIEWED  # may be confirmed again


def test_no_partial_write_when_a_later_step_fails(org, monkeypatch):
    """Whichever write path (COPY on PostgreSQL, batches elsewhere): a failure after the rows went in
    rolls them back."""
    group = wecom_group(org)

    def failing(*args):
        raise IntegrityError("boom")

    monkeypatch.setattr(store, "apply_recalls", failing)
    with pytest.raises(IntegrityError):
        run(WECOM, group)
    assert not ChatMessage.objects.exists()


def test_batches_write_everything(org, tmp_path, monkeypatch):
    group = wecom_group(org)
    monkeypatch.setattr(store, "BATCH", 7)
    path = tmp_path / "many.jsonl"
    path.write_text("".join(wecom_row(f"k{i}", msgtime=1793581205000 + i) + "\n" for i in range(50)), encoding="utf-8")
    assert run(path, group).created_count == 50


def test_file_without_group_messages_refused(org, tmp_path):
    group = wecom_group(org)
    path = tmp_path / "single.jsonl"
    path.write_text(wecom_row("s1", roomid="") + "\n", encoding="utf-8")
    job = run(path, group)
    assert job.status == ImportStatus.INVALID and "单聊" in job.errors[0]


def test_retention_purges_bodies_keeps_rows(org, tmp_path):
    group = wecom_group(org)
    run(WECOM, group)
    settings_row = RosterSettings.load()
    assert settings_row.chat_retention_days == 180
    settings_row.chat_retention_days = 30
    settings_row.save()
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # the image (2026-11-02 15:55 UTC) is within 30 days
    purged = purge_chat_bodies(now=now)
    old = ChatMessage.objects.filter(sent_at__lt=now - timedelta(days=30))
    assert purged == old.count() == 5  # the image at 23:55 China time is within the 30 days
    assert not old.filter(text__isnull=False).exists() and not old.filter(link_url__isnull=False).exists()
    assert set(old.values_list("purged_at", flat=True)) == {now}
    assert ChatMessage.objects.count() == 6  # rows (time, sender, kind, recall facts) stay
    assert ChatMessage.objects.get(natural_key="10003_1793584800000").recalled
    assert purge_chat_bodies(now=now) == 0
    assert LogEntry.objects.filter(object_repr="聊天消息内容清除").count() == 1


def test_purge_task_runs(org):
    from groups.tasks import purge_chat_bodies_task

    run(WECOM, wecom_group(org))
    RosterSettings.objects.update(chat_retention_days=1)  # the samples are from November 2026
    assert purge_chat_bodies_task.apply().get() == 6
    assert not ChatMessage.objects.filter(purged_at__isnull=True).exists()

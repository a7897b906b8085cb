"""The file is parsed once: the preview spools the messages and the write reads the spool."""

from __future__ import annotations

import json

import pytest

from groups.chat import spool, store
from groups.chat.models import ChatImport, ChatMessage
from groups.choices import ImportStatus

from .chat_helpers import ROOM, WECOM, member, wecom_group, wecom_row

pytestmark = pytest.mark.django_db


def preview(path, group, platform="wecom"):
    job = store.create_chat_import(group=group, acting_user=None, platform=platform, original_name=path.name)
    return store.preview_chat_import(job, path=path)


def refuse_reading(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the export was parsed a second time")

    monkeypatch.setattr(store, "read_chat", never)


def test_confirm_reads_the_spool_not_the_file(org, monkeypatch):
    group = wecom_group(org)
    job = preview(WECOM, group)
    assert job.status == ImportStatus.PREVIEWED and spool.spool_path(job.pk).exists()
    refuse_reading(monkeypatch)
    job = store.run_chat_import(job, acting_user=None, path=WECOM)
    assert job.status == ImportStatus.DONE and job.created_count == ChatMessage.objects.count() == 6
    assert ChatMessage.objects.get(natural_key="10003_1793584800000").recalled
    assert not spool.spool_path(job.pk).exists()  # bodies are personal data: not left on disk


def test_awkward_text_round_trips(org, tmp_path, monkeypatch):
    """Tabs, line ends, backslashes and a literal \\N survive the COPY text format on both databases."""
    group = wecom_group(org)
    texts = ["a\tb", "line1\nline2\r\n", "C:\\temp\\new", "\\N", "", "收到 @所有人\u2005"]
    path = tmp_path / "awkward.jsonl"
    rows = [wecom_row(f"m{i}", text=t, msgtime=1793581205000 + i) for i, t in enumerate(texts)]
    body = {"title": "t\\1", "link_url": "http://e.x/?a=\t"}
    link = {"msgid": "lnk", "action": "send", "from": "Li\tSi", "tolist": [], "roomid": ROOM,
            "msgtime": 1793581209000, "msgtype": "link", "link": body}  # fmt: skip
    path.write_text("\n".join([*rows, json.dumps(link)]) + "\n", encoding="utf-8")
    job = preview(path, group)
    refuse_reading(monkeypatch)
    store.run_chat_import(job, acting_user=None)
    stored = dict(ChatMessage.objects.filter(kind="text").values_list("natural_key", "text"))
    assert stored == {f"m{i}": t for i, t in enumerate(texts)}
    everyone = ChatMessage.objects.get(natural_key="m5")
    assert everyone.mentions_all and everyone.mentions == [] and everyone.extra == {"msgtype": "text"}
    shared = ChatMessage.objects.get(natural_key="lnk")
    assert (shared.sender_platform_id, shared.link_title, shared.link_url) == ("Li\tSi", "t\\1", "http://e.x/?a=\t")


def test_matches_are_taken_at_confirm(org):
    """The spool holds platform ids only: a member added between preview and confirm is matched."""
    group = wecom_group(org)
    job = preview(WECOM, group)
    member(group, "LiSi", "李四", employee=org["tech_dev"])
    store.run_chat_import(job, acting_user=None)
    assert set(ChatMessage.objects.filter(sender_platform_id="LiSi").values_list("employee", flat=True)) == {
        org["tech_dev"].pk
    }


def test_lost_spool_falls_back_to_reading_the_file(org):
    group = wecom_group(org)
    job = preview(WECOM, group)
    spool.spool_path(job.pk).unlink()
    job = store.run_chat_import(job, acting_user=None, path=WECOM)
    assert job.status == ImportStatus.DONE and ChatMessage.objects.count() == 6


def test_refused_or_interrupted_preview_leaves_no_spool(org, tmp_path, monkeypatch):
    group = wecom_group(org)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(wecom_row("ok") + "\n{not json\n", encoding="utf-8")
    job = preview(bad, group)
    assert job.status == ImportStatus.INVALID and "第2行" in job.errors[0]
    folder = spool.spool_path(job.pk).parent
    assert not list(folder.glob(f"rows-{job.pk}.*"))

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(store, "_preview", crash)
    job = store.create_chat_import(group=group, acting_user=None, platform="wecom", original_name="a.jsonl")
    with pytest.raises(RuntimeError):
        store.preview_chat_import(job, path=WECOM)
    assert not list(folder.glob(f"rows-{job.pk}.*"))


def test_cancel_deletes_the_spool(org):
    job = preview(WECOM, wecom_group(org))
    assert store.cancel_chat_import(job, acting_user=None)
    assert not spool.spool_path(job.pk).exists()
    assert ChatImport.objects.get().status == ImportStatus.CANCELLED


def test_other_conversations_of_the_file_are_not_written(org, tmp_path, monkeypatch):
    group = wecom_group(org)
    path = tmp_path / "two.jsonl"
    path.write_text(wecom_row("mine") + "\n" + wecom_row("theirs", roomid="wrOther") + "\n", encoding="utf-8")
    job = preview(path, group)
    assert job.preview["skipped"] == {"other_chat": 1}
    store.run_chat_import(job, acting_user=None)
    assert list(ChatMessage.objects.values_list("natural_key", flat=True)) == ["mine"]
    assert ChatImport.objects.get().preview["duplicates"] == 0


def test_first_import_copies_straight_in_overlap_goes_through_conflicts(org, tmp_path, monkeypatch):
    """PostgreSQL COPYs a file no stored message overlaps straight into the table; a re-import, and a
    file that repeats a key itself, go through ON CONFLICT (other databases: batches, same outcome)."""
    group = wecom_group(org)
    paths = []
    real_direct, real_staged = store._copy_direct, store._copy_staged
    monkeypatch.setattr(store, "_copy_direct", lambda *a: paths.append("direct") or real_direct(*a))
    monkeypatch.setattr(store, "_copy_staged", lambda *a: paths.append("staged") or real_staged(*a))
    first = tmp_path / "first.jsonl"
    first.write_text("".join(wecom_row(f"k{i}", msgtime=1793581205000 + i) + "\n" for i in range(5)), encoding="utf-8")
    assert store.import_chat_file(first, group=group, acting_user=None).created_count == 5
    again = store.import_chat_file(first, group=group, acting_user=None)
    assert (again.created_count, again.preview["duplicates"]) == (0, 5)
    repeated = tmp_path / "repeated.jsonl"
    repeated.write_text(wecom_row("r1", msgtime=1893581205000) + "\n" + wecom_row("r1", msgtime=1893581205000) + "\n")
    job = store.import_chat_file(repeated, group=group, acting_user=None)
    assert (job.created_count, job.preview["duplicates"]) == (1, 1)
    assert ChatMessage.objects.count() == 6
    assert paths == (["direct", "staged", "direct", "staged"] if store.use_copy() else [])

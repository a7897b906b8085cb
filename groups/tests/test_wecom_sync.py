"""The WeCom sync on the roster import's pipeline: paging, resume, rate limits, failed groups,
member_version, departed members → findings, empty group nicknames, the directory, the archive."""

from __future__ import annotations

import json

import pytest

from groups.choices import FindingKind, FindingStatus, SyncPhase, SyncStatus
from groups.models import (
    ChatGroup,
    ChatMessage,
    DirectoryFinding,
    Employee,
    ImportJob,
    Membership,
    RosterFinding,
    RosterSettings,
    WeComArchiveState,
    WeComChat,
    WeComSyncRun,
)
from groups.reconcile import reconcile_all
from groups.tests.wecom_sync_helpers import FakeWeCom, Killed, group_chat, many_chats, member
from groups.wecom_sync import sync as sync_module
from groups.wecom_sync.sync import run_sync, start_sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_reconcile_queue(monkeypatch):
    monkeypatch.setattr("groups.tasks.enqueue_reconcile", lambda: True)


def sync(client, **kwargs):
    sleeps: list[float] = []
    run = run_sync(start_sync(), client=client, sleep=sleeps.append, **kwargs)
    run.sleeps = sleeps
    return run


@pytest.fixture
def staff(org):
    """Employees with their WeCom userids: 张三 (active), 赵六 (departed), 孙七 (active)."""
    for key, userid in (("east_rep", "zhangsan"), ("east_departed", "zhaoliu"), ("tech_dev", "sunqi")):
        Employee.objects.filter(pk=org[key].pk).update(wecom_id=userid)
    return org


def customer_group(chat_id="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", **kw):
    members = kw.pop("members", None) or [
        member("zhangsan", nickname="华东区-张三", name="张三"),
        member("zhaoliu", nickname="华东区-赵六", name="赵六"),
        member("wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", nickname="顾客老王", name="王语嫣", external=True),
    ]
    return group_chat(chat_id, members, owner="zhangsan", name=kw.pop("name", "销售客服群"), **kw)


def open_members(group):
    return dict(Membership.objects.open().filter(group=group).values_list("platform_id", "employee_id"))


def test_customer_group_becomes_a_roster_snapshot_with_departed_member_found(staff):
    client = FakeWeCom({"wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA": customer_group()})
    run = sync(client)
    assert run.status == SyncStatus.DONE, run.errors
    group = ChatGroup.objects.get(external_id="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA")
    assert (group.name, group.platform, group.kind, group.admits_outsiders) == ("销售客服群", "wecom", "customer", True)
    assert group.owner == staff["east_rep"] and group.department == staff["east"]
    assert open_members(group) == {
        "zhangsan": staff["east_rep"].pk,
        "zhaoliu": staff["east_departed"].pk,
        "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA": None,  # type 2: a customer, never an employee
    }
    job = ImportJob.objects.get(pk=run.import_job_id)
    assert job.status == "done" and job.summary["written"] == 1 and job.summary["joined"] == 3
    reconcile_all(full=True)
    findings = RosterFinding.objects.filter(group=group, status=FindingStatus.OPEN)
    assert {(f.kind, f.employee_id) for f in findings} == {
        (FindingKind.DEPARTED_MEMBER, staff["east_departed"].pk),
        (FindingKind.UNAPPROVED_GROUP, None),  # a group the sync found has no approval on record yet
    }


def test_external_member_with_an_employees_name_stays_an_outsider(staff):
    members = [
        member("zhangsan", nickname="华东区-张三"),
        member("wmX", nickname="华东区-孙七", name="孙七", external=True),
    ]
    client = FakeWeCom({"wrA": group_chat("wrA", members, owner="zhangsan")})
    sync(client)
    assert open_members(ChatGroup.objects.get(external_id="wrA"))["wmX"] is None


def test_empty_group_nickname_is_not_set_not_a_mismatch(staff):
    members = [
        member("zhangsan", nickname="", name="张三"),  # not set: the group shows 张三
        member("sunqi", nickname="孙七七", name="孙七"),  # set, and breaks 部门-姓名
    ]
    client = FakeWeCom({"wrN": group_chat("wrN", members, owner="zhangsan")})
    assert sync(client).status == SyncStatus.DONE
    group = ChatGroup.objects.get(external_id="wrN")
    rows = {m.platform_id: (m.nickname, m.nickname_set) for m in Membership.objects.filter(group=group)}
    assert rows == {"zhangsan": ("张三", False), "sunqi": ("孙七七", True)}
    reconcile_all(full=True)
    bad = RosterFinding.objects.filter(group=group, kind=FindingKind.BAD_NICKNAME)
    assert [(f.employee_id, f.detail) for f in bad] == [(staff["tech_dev"].pk, "技术部-孙七")]


def test_paging_over_thousands_of_groups(staff):
    client = FakeWeCom(many_chats(2500, per_group=3))
    run = sync(client)
    assert run.status == SyncStatus.DONE, run.errors
    assert client.count("groupchat/list") == 3  # 1000 + 1000 + 500
    assert client.count("groupchat/get") == 2500
    assert run.counts["calls"] == client.calls == 2 + 3 + 2500  # department/list + user/list first
    assert (run.total_groups, run.done_groups) == (2500, 2500)
    assert ChatGroup.objects.exclude(external_id="").count() == 2500
    assert Membership.objects.open().count() == 7500
    assert len(set(ChatGroup.objects.values_list("name", flat=True))) == ChatGroup.objects.count()  # unique names


@pytest.mark.parametrize("kill_at", [2, 3, 450, 1203])
def test_a_run_killed_at_call_n_resumes_without_losing_or_duplicating(staff, kill_at):
    client = FakeWeCom(many_chats(1200, per_group=2))
    client.faults[kill_at] = Killed
    with pytest.raises(Killed):
        sync(client)
    run = WeComSyncRun.objects.get()
    assert run.status == SyncStatus.RUNNING  # the worker died: the run is unfinished, not failed
    calls_before = client.calls
    resumed = sync(client)
    assert resumed.pk == run.pk and resumed.status == SyncStatus.DONE, resumed.errors
    assert ChatGroup.objects.exclude(external_id="").count() == 1200
    assert Membership.objects.open().count() == 2400
    assert WeComChat.objects.exclude(attempted_run=run).count() == 0
    # Work committed before the kill is not redone: at most one batch of gets is repeated.
    assert client.calls - calls_before <= 1200 + 2 - (kill_at - 3 if kill_at > 3 else 0) + sync_module.BATCH


def test_rate_limit_is_backed_off_and_the_call_repeated(staff):
    client = FakeWeCom(many_chats(30))
    for n in (5, 6, 7):
        client.faults[n] = {"errcode": 45009, "errmsg": "api freq out of limit"}
    run = sync(client)
    assert run.status == SyncStatus.DONE and run.counts["rate_limited"] == 3
    assert run.sleeps == [1, 2, 4]
    assert Membership.objects.open().count() == 150


def test_rate_limit_past_the_budget_interrupts_and_the_next_run_resumes(staff):
    client = FakeWeCom(many_chats(250))
    for n in range(120, 120 + len(sync_module.BACKOFF) + 1):
        client.faults[n] = {"errcode": 45033, "errmsg": "api concurrent out of limit"}
    run = sync(client)
    assert run.status == SyncStatus.INTERRUPTED and run.phase == SyncPhase.FETCH
    assert 0 < run.done_groups < 250
    resumed = sync(client)
    assert resumed.pk == run.pk and resumed.status == SyncStatus.DONE
    assert client.count("groupchat/list") == 1  # the listing was not read again
    assert ChatGroup.objects.exclude(external_id="").count() == 250


def test_a_group_whose_fetch_failed_keeps_its_last_snapshot(staff):
    client = FakeWeCom({"wrA": customer_group("wrA"), "wrB": customer_group("wrB", name="另一个群")})
    sync(client)
    group_a = ChatGroup.objects.get(external_id="wrA")
    before = open_members(group_a)
    client.failing["wrA"] = 49008  # groupchat/get refused for this chat
    client.chats["wrB"]["member_list"] = client.chats["wrB"]["member_list"][:1]
    client.chats["wrB"]["member_version"] = "v2"
    run = sync(client)
    assert run.status == SyncStatus.PARTIAL and run.counts["failed"] == 1
    assert any("wrA" in e and "49008" in e for e in run.errors)
    assert open_members(group_a) == before  # nobody in it read as gone
    assert len(open_members(ChatGroup.objects.get(external_id="wrB"))) == 1  # the other group synced
    chat = WeComChat.objects.get(chat_id="wrA")
    assert "49008" in chat.last_error and ChatGroup.objects.get(pk=group_a.pk).wecom_member_version == "v1"


def test_an_empty_member_list_is_a_fault_not_everyone_leaving(staff):
    client = FakeWeCom({"wrA": customer_group("wrA")})
    sync(client)
    client.chats["wrA"]["member_list"], client.chats["wrA"]["member_version"] = [], "v9"
    run = sync(client)
    assert run.status == SyncStatus.PARTIAL
    assert len(open_members(ChatGroup.objects.get(external_id="wrA"))) == 3


def test_incremental_only_changed_member_version_is_rewritten(staff):
    client = FakeWeCom(many_chats(50))
    sync(client)
    second = sync(client)
    assert (second.counts["unchanged"], second.counts["written"]) == (50, 0)
    chat = client.chats["wrchat000007"]
    chat["member_list"].append(member("zhaoliu", nickname="华东区-赵六"))
    chat["member_version"] = "v2"
    third = sync(client)
    assert (third.counts["unchanged"], third.counts["written"], third.counts["joined"]) == (49, 1, 1)
    group = ChatGroup.objects.get(external_id="wrchat000007")
    assert open_members(group)["zhaoliu"] == staff["east_departed"].pk


def test_members_who_left_in_wecom_leave_the_group(staff):
    client = FakeWeCom({"wrA": customer_group("wrA")})
    sync(client)
    client.chats["wrA"]["member_list"] = client.chats["wrA"]["member_list"][:1]
    client.chats["wrA"]["member_version"] = "v2"
    sync(client)
    assert set(open_members(ChatGroup.objects.get(external_id="wrA"))) == {"zhangsan"}
    assert Membership.objects.filter(platform_id="zhaoliu", left_at__isnull=False).count() == 1


def test_one_unfinished_run_at_a_time(staff):
    first = start_sync()
    assert start_sync() == first
    assert WeComSyncRun.objects.count() == 1


# --- the organisation -------------------------------------------------------------------------


def directory_client():
    client = FakeWeCom()
    client.departments = [
        {"id": 1, "name": "总公司", "parentid": 0},
        {"id": 2, "name": "销售部", "parentid": 1},
        {"id": 3, "name": "华东区", "parentid": 2},
    ]
    client.users = [
        {"userid": "zhangsan", "name": "张三", "department": [3], "status": 1},
        {"userid": "zhaoliu", "name": "赵六", "department": [3], "status": 1},  # departed in HR
        {"userid": "sunqi", "name": "孙琪", "department": [1], "status": 1},  # 孙七 in HR
        {"userid": "wangwu", "name": "王五", "department": [2], "status": 1},  # not on the roster
        {"userid": "gone", "name": "离开的人", "department": [2], "status": 5},  # left WeCom: no finding
    ]
    return client


def test_directory_mismatches_become_findings_and_resolve(staff):
    client = directory_client()
    run = sync(client)
    assert run.status == SyncStatus.DONE, run.errors
    found = {(f.kind, f.userid, f.employee_id) for f in DirectoryFinding.objects.filter(status="open")}
    assert found == {
        ("not_employee", "wangwu", None),
        ("departed_active", "zhaoliu", staff["east_departed"].pk),
        ("name_mismatch", "sunqi", staff["tech_dev"].pk),
    }
    assert Employee.objects.filter(wecom_id="wangwu").count() == 0  # HR is the source: roster untouched
    client.users = [u for u in client.users if u["userid"] != "wangwu"]
    sync(client)
    assert DirectoryFinding.objects.get(userid="wangwu").status == FindingStatus.RESOLVED
    assert DirectoryFinding.objects.filter(status="open").count() == 2  # still there, not duplicated


def test_wecom_as_the_roster_source_writes_the_directory_through_the_roster_import(staff):
    RosterSettings.objects.update(wecom_roster_source=True)
    run = sync(directory_client())
    assert run.status == SyncStatus.DONE, run.errors
    wangwu = Employee.objects.get(wecom_id="wangwu")
    assert (wangwu.employee_no, wangwu.name, wangwu.department.name_path) == ("wangwu", "王五", "总公司/销售部")
    assert Employee.objects.get(pk=staff["tech_dev"].pk).name == "孙琪"  # WeCom's name, 工号 kept
    assert Employee.objects.get(employee_no="gone").status == "departed"
    assert not DirectoryFinding.objects.filter(status="open", kind__in=["not_employee", "name_mismatch"]).exists()


# --- internal groups and the chat archive ------------------------------------------------------

ROOM = "wrNplhCgAAIVZohLe57zKnvIV7xBKrig"


def archive_dir(tmp_path, lines):
    folder = tmp_path / "archive"
    folder.mkdir(exist_ok=True)
    with (folder / "0001.jsonl").open("a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return folder


def sample_lines():
    from pathlib import Path

    path = Path(__file__).parent / "fixtures" / "wecom" / "wecom_msgaudit_decrypted.jsonl"
    return [{"seq": 190 + i, **json.loads(line)} for i, line in enumerate(path.read_text().splitlines())]


def test_archive_rooms_become_internal_groups_and_messages_resume_from_seq(staff, tmp_path):
    client = FakeWeCom()
    client.rooms[ROOM] = {
        "roomname": "蓦然回首",
        "creator": "zhangsan",
        "room_create_time": 1592361604,
        "notice": "",
        "members": [
            {"memberid": "zhangsan", "jointime": 1592361605},
            {"memberid": "zhaoliu", "jointime": 1592377076},
            {"memberid": "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", "jointime": 1592377076},
        ],
    }
    lines = sample_lines()
    folder = archive_dir(tmp_path, lines[:3])
    run = sync(client, archive_dir=folder)
    assert run.status == SyncStatus.DONE, run.errors
    group = ChatGroup.objects.get(external_id=ROOM)
    assert (group.name, group.kind, group.admits_outsiders) == ("蓦然回首", "department", False)
    assert set(open_members(group)) == {"zhangsan", "zhaoliu", "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA"}
    assert ChatMessage.objects.filter(group=group).count() == 3
    assert WeComArchiveState.load().seq == 192
    assert (folder / "seq").read_text().strip() == "192"
    archive_dir(tmp_path, lines[3:])  # the SDK runner appends the next records
    run = sync(client, archive_dir=folder)
    assert ChatMessage.objects.filter(group=group).count() == 6  # + recall, red packet, image; switch skipped
    assert ChatMessage.objects.get(natural_key="10003_1793584800000").recalled
    assert WeComArchiveState.load().seq == 196
    reconcile_all(full=True)
    kinds = set(RosterFinding.objects.filter(group=group, status="open").values_list("kind", flat=True))
    assert {FindingKind.DEPARTED_MEMBER, FindingKind.OUTSIDER} <= kinds


def test_archive_lines_without_seq_are_refused_naming_the_line(staff, tmp_path):
    folder = archive_dir(tmp_path, [{"msgid": "x", "action": "send"}])
    run = sync(FakeWeCom(), archive_dir=folder)
    assert run.status == SyncStatus.FAILED
    assert any("0001.jsonl 第1行, seq" in e for e in run.errors)

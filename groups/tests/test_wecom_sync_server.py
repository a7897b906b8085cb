"""The WeCom sync against the faithful local server (portal/tests/wecom_api_server.py) through the
real client (portal.wecom.WeComClient over HTTP): paging, rate limits, faults at call N and resume,
a chat gone between list and get, member_version, departed members and empty group nicknames."""

from __future__ import annotations

import time

import pytest

from groups.choices import EmployeeStatus, FindingKind, SyncStatus
from groups.models import ChatGroup, DirectoryFinding, Employee, Membership, RosterFinding, WeComSyncRun
from groups.reconcile import reconcile_all
from groups.wecom_sync.client import api_for
from groups.wecom_sync.sync import run_sync, start_sync
from portal.tests.wecom_api_server import CORP_ID, SECRETS, World, start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_reconcile_queue(monkeypatch):
    monkeypatch.setattr("groups.tasks.enqueue_reconcile", lambda: True)


@pytest.fixture
def server():
    servers = []

    def make(**world):
        started = start(World(**world))
        servers.append(started)
        return started

    yield make
    for s in servers:
        s.shutdown()
        s.server_close()


def api(server, **options):
    secrets = {"customer": SECRETS["customer"], "contacts": SECRETS["contacts"], "archive": SECRETS["archive"]}
    return api_for(server.base_url, CORP_ID, secrets, sleep=lambda _s: None, **options)


def sync(client):
    return run_sync(start_sync(), client=client, sleep=lambda _s: None)


@pytest.fixture
def roster(org):
    """Builds the HR roster of a server's company: every WeCom member an employee (wecom_id = userid),
    the members who left the company departed employees."""

    def build(server, *, departed=()):
        world = server.world
        rows = [
            Employee(
                employee_no=f"E{u['userid']}",
                name=u["name"],
                department=org["root"],
                wecom_id=u["userid"],
                status=EmployeeStatus.DEPARTED if u["userid"] in departed else EmployeeStatus.ACTIVE,
            )
            for u in world.user_rows
        ]
        rows += [
            Employee(employee_no=f"E{u}", name=f"离职{u}", department=org["root"], wecom_id=u, status="departed")
            for u in world.departed
        ]
        Employee.objects.bulk_create(rows)
        return world

    return build


def test_full_sync_pages_thousands_of_groups_and_finds_departed_members(server, roster):
    wecom = server(groups=2100, members_per_group=4)
    world = wecom.world
    leaver = world.group_chat(0, need_name=True)["member_list"][0]["userid"]  # in group 0 at least
    roster(wecom, departed={leaver})
    run = sync(api(wecom))
    assert run.status == SyncStatus.DONE, run.errors
    assert len(wecom.calls("externalcontact/groupchat/list")) == 3  # 1000 + 1000 + 100
    assert len(wecom.calls("externalcontact/groupchat/get")) == 2100
    assert run.counts["calls"] == len(wecom.requests)  # every request counted, gettoken included
    assert ChatGroup.objects.exclude(external_id="").count() == 2100
    assert Membership.objects.open().filter(group__platform="wecom").count() == 2100 * 4
    reconcile_all(full=True)
    departed = RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER, status="open", employee__wecom_id=leaver)
    assert departed.filter(group__external_id=world.chat_ids[0]).exists()
    # groups owned by someone who left (离职待继承 in WeCom, or departed in HR) are owner-departed findings
    owner_left = {world.chat_ids[i] for i in range(world.groups) if world.status(i) == 1 or world.owner(i) == leaver}
    found = set(
        RosterFinding.objects.filter(kind=FindingKind.OWNER_DEPARTED, status="open").values_list(
            "group__external_id", flat=True
        )
    )
    assert owner_left and owner_left == found


def test_empty_group_nicknames_are_not_set_and_raise_no_nickname_finding(server, roster):
    wecom = server(groups=60, members_per_group=10)
    roster(wecom)
    assert sync(api(wecom)).status == SyncStatus.DONE
    not_set = Membership.objects.filter(nickname_set=False)
    assert not_set.exists() and not not_set.filter(nickname="").exists()  # shown by their name
    reconcile_all(full=True)
    bad = RosterFinding.objects.filter(kind=FindingKind.BAD_NICKNAME, status="open")
    assert bad.exists()  # nicknames that were set and break 部门-姓名 are still found
    assert not bad.filter(membership__nickname_set=False).exists()


def test_rate_limited_past_the_back_off_interrupts_then_resumes(server, roster):
    wecom = server(groups=300, members_per_group=3)
    roster(wecom)
    if time.time() % 60 > 45:  # the server counts per clock minute: start early in one
        time.sleep(61 - time.time() % 60)
    wecom.rate_per_minute = 150  # per app and path per minute: groupchat/get runs out after 150
    run = sync(api(wecom, rate_retries=2))
    assert run.status == SyncStatus.INTERRUPTED and run.counts["rate_limited"] >= 1
    assert run.done_groups == 100  # the first batch committed; the second ran out of calls
    wecom.rate_per_minute = 0  # the next minute(s)
    resumed = sync(api(wecom))
    assert resumed.pk == run.pk and resumed.status == SyncStatus.DONE, resumed.errors
    assert ChatGroup.objects.exclude(external_id="").count() == 300
    assert Membership.objects.open().filter(group__platform="wecom").count() == 900
    assert len(wecom.calls("externalcontact/groupchat/list")) == 1  # the listing was not read again


def test_server_down_at_call_n_then_resume_loses_and_duplicates_nothing(server, roster):
    wecom = server(groups=320, members_per_group=3)
    roster(wecom)
    wecom.fail_calls["externalcontact/groupchat/get"] = set(range(250, 400))  # -1 system busy from call 250
    run = sync(api(wecom, retries=1))
    assert run.status == SyncStatus.INTERRUPTED
    assert run.done_groups == 200  # two batches of 100 committed before the fault
    wecom.fail_calls.clear()
    resumed = sync(api(wecom))
    assert resumed.status == SyncStatus.DONE, resumed.errors
    assert WeComSyncRun.objects.count() == 1
    assert Membership.objects.open().filter(group__platform="wecom").count() == 960
    assert ChatGroup.objects.exclude(external_id="").count() == 320


def test_a_chat_gone_between_list_and_get_keeps_its_snapshot(server, roster):
    wecom = server(groups=30, members_per_group=5)
    roster(wecom)
    sync(api(wecom))
    gone = wecom.world.chat_ids[3]
    group = ChatGroup.objects.get(external_id=gone)
    before = set(Membership.objects.open().filter(group=group).values_list("platform_id", flat=True))
    wecom.world.touch(gone)  # a member leaves…
    del wecom.world.index[gone]  # …and groupchat/get now answers 40050 for it
    run = sync(api(wecom))
    assert run.status == SyncStatus.PARTIAL and run.counts["failed"] == 1
    assert any("40050" in e for e in run.errors)
    assert set(Membership.objects.open().filter(group=group).values_list("platform_id", flat=True)) == before


def test_incremental_only_touched_groups_are_rewritten(server, roster):
    wecom = server(groups=200, members_per_group=5)
    roster(wecom)
    sync(api(wecom))
    touched = wecom.world.chat_ids[:2]
    for chat_id in touched:
        wecom.world.touch(chat_id)  # one member left: member_version changes
    run = sync(api(wecom))
    assert (run.counts["written"], run.counts["unchanged"], run.counts["left"]) == (2, 198, 2)
    for chat_id in touched:
        assert Membership.objects.open().filter(group__external_id=chat_id).count() == 4


def test_directory_against_hr_roster(server, roster):
    wecom = server(groups=5, members_per_group=3)
    world = roster(wecom)
    first = world.user_rows[0]["userid"]
    Employee.objects.filter(wecom_id=first).update(status="departed")
    Employee.objects.filter(wecom_id=world.user_rows[1]["userid"]).delete()
    run = sync(api(wecom))
    assert run.status == SyncStatus.DONE, run.errors
    kinds = dict(DirectoryFinding.objects.filter(status="open").values_list("userid", "kind"))
    assert kinds[first] == "departed_active"
    assert kinds[world.user_rows[1]["userid"]] == "not_employee"

"""Roster reconciliation: every finding kind, idempotency, auto-resolution, waiving, query counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.choices import FindingKind
from groups.models import ChatGroup, Employee, Membership, RosterFinding
from groups.reconcile import reconcile_all

K = FindingKind


def member(group, nickname, employee=None, **kw):
    return Membership.objects.create(group=group, nickname=nickname, employee=employee, **kw)


def approve(*groups):
    ChatGroup.objects.filter(pk__in=[g.pk for g in groups]).update(approved_at=timezone.now())


@pytest.fixture
def roster(org):
    """销售部工作群 with a correct member, a departed one, an outsider and a bad nickname."""
    group = org["sales_group"]
    approve(org["sales_group"], org["tech_group"])
    return {
        "ok": member(group, "华东区-张三", org["east_rep"], platform_id="wx_zhangsan"),
        "departed": member(group, "华东区-赵六", org["east_departed"], platform_id="wx_zhaoliu"),
        "outsider": member(group, "路人甲", platform_id="wx_stranger"),
        "bad": member(group, "小孙", org["tech_dev"]),
    }


def findings(**kw):
    return RosterFinding.objects.filter(**kw)


def live_keys():
    return set(
        RosterFinding.objects.live().values_list("kind", "group_id", "membership_id", "employee_id", "status", "detail")
    )


def test_departed_member_outsider_and_nickname_are_found(org, roster):
    summary = reconcile_all()
    group = org["sales_group"]
    assert live_keys() == {
        (K.DEPARTED_MEMBER, group.pk, roster["departed"].pk, org["east_departed"].pk, "open", ""),
        (K.OUTSIDER, group.pk, roster["outsider"].pk, None, "open", "路人甲"),
        (K.BAD_NICKNAME, group.pk, roster["bad"].pk, org["tech_dev"].pk, "open", "技术部-孙七"),
    }
    assert summary.created == {K.DEPARTED_MEMBER: 1, K.OUTSIDER: 1, K.BAD_NICKNAME: 1}


def test_nickname_variants_and_other_conventions(org, roster):
    Membership.objects.filter(pk=roster["bad"].pk).update(nickname="技术部 — 孙七")  # full-width dash, spaces
    org["tech_group"].nickname_convention = "{company}{department}{title}{name}"
    org["tech_group"].save()
    good = member(org["tech_group"], "总公司技术部技术总监陈技术", org["tech_head"])
    wrong = member(org["tech_group"], "技术部-孙七", org["tech_dev"])
    reconcile_all()
    bad = findings(kind=K.BAD_NICKNAME)
    assert list(bad.values_list("membership_id", "detail")) == [(wrong.pk, "总公司技术部工程师孙七")]
    assert not findings(membership=good).exists()


def test_departed_members_not_flagged_for_nickname_and_dissolved_groups_ignored(org, roster):
    ChatGroup.objects.filter(pk=org["sales_group"].pk).update(status="dissolved", dissolved_at=timezone.now())
    reconcile_all()
    assert not RosterFinding.objects.exists()


def test_outsiders_allowed_in_groups_that_admit_them(org, roster):
    ChatGroup.objects.filter(pk=org["sales_group"].pk).update(admits_outsiders=True)
    reconcile_all()
    assert not findings(kind=K.OUTSIDER).exists()
    assert findings(kind=K.DEPARTED_MEMBER).count() == 1


def test_owner_departed_suggests_an_active_admin(org, roster):
    Employee.objects.filter(pk=org["sales_head"].pk).update(status="departed")
    reconcile_all()
    finding = findings(kind=K.OWNER_DEPARTED).get()
    assert (finding.group, finding.employee) == (org["sales_group"], org["sales_head"])
    assert finding.suggested_successor == org["tech_dev"]
    assert finding.detail == "孙七"


def test_owner_departed_without_admin_suggests_the_department_head(org):
    group = org["tech_group"]
    group.owner = org["tech_dev"]
    group.save()
    Employee.objects.filter(pk=org["tech_dev"].pk).update(status="departed")
    reconcile_all()
    finding = findings(kind=K.OWNER_DEPARTED, group=group).get()
    assert finding.suggested_successor == org["tech_head"]
    assert finding.detail == "陈技术"


def test_project_overdue_and_unapproved(org):
    today = timezone.localdate()
    common = {"platform": "qq", "department": org["tech"], "approved_at": timezone.now()}
    late = ChatGroup.objects.create(name="项目A", kind="project", end_date=today - timedelta(days=1), **common)
    ChatGroup.objects.create(name="项目B", kind="project", end_date=today, **common)
    ChatGroup.objects.create(name="项目C", kind="project", end_date=None, **common)
    ChatGroup.objects.create(name="旧项目", kind="project", end_date=date(2020, 1, 1), status="dissolved", **common)
    reconcile_all()
    overdue = findings(kind=K.PROJECT_OVERDUE).get()
    assert (overdue.group, overdue.detail) == (late, (today - timedelta(days=1)).isoformat())
    unapproved = set(findings(kind=K.UNAPPROVED_GROUP).values_list("group_id", flat=True))
    assert unapproved == {org["sales_group"].pk, org["tech_group"].pk}


def test_rerun_is_idempotent_and_refreshes_last_seen(org, roster):
    first_at = timezone.now() - timedelta(hours=2)
    reconcile_all(now=first_at)
    before = live_keys()
    ids = set(RosterFinding.objects.values_list("pk", flat=True))
    summary = reconcile_all()
    assert live_keys() == before
    assert set(RosterFinding.objects.values_list("pk", flat=True)) == ids
    assert summary.created == {} and summary.resolved == {} and summary.still_open == 3
    for finding in RosterFinding.objects.all():
        assert finding.first_seen_at == first_at
        assert finding.last_seen_at == first_at  # open rows are not rewritten: the run is recorded once
    for finding in RosterFinding.objects.with_last_seen():
        assert finding.seen_at > first_at


def test_condition_gone_is_resolved_automatically(org, roster):
    reconcile_all()
    now = timezone.now() + timedelta(minutes=5)
    Membership.objects.filter(pk=roster["departed"].pk).update(left_at=now)
    Membership.objects.filter(pk=roster["bad"].pk).update(nickname="技术部-孙七")
    summary = reconcile_all(now=now)
    assert summary.resolved == {K.DEPARTED_MEMBER: 1, K.BAD_NICKNAME: 1}
    for kind in (K.DEPARTED_MEMBER, K.BAD_NICKNAME):
        finding = findings(kind=kind).get()
        assert (finding.status, finding.resolved_at, finding.resolved_by) == ("resolved", now, None)
    assert findings(kind=K.OUTSIDER).get().status == "open"


def test_condition_back_after_resolution_opens_a_new_finding(org, roster):
    reconcile_all()
    Membership.objects.filter(pk=roster["bad"].pk).update(nickname="技术部-孙七")
    reconcile_all()
    Membership.objects.filter(pk=roster["bad"].pk).update(nickname="孙七")
    reconcile_all()
    assert list(findings(kind=K.BAD_NICKNAME).order_by("pk").values_list("status", flat=True)) == ["resolved", "open"]


def test_waived_finding_stays_waived(org, roster):
    reconcile_all()
    outsider = findings(kind=K.OUTSIDER).get()
    RosterFinding.objects.filter(pk=outsider.pk).update(
        status="waived", waive_reason="外部顾问,已批准", resolved_at=timezone.now()
    )
    reconcile_all()
    assert findings(kind=K.OUTSIDER).count() == 1
    assert findings(kind=K.OUTSIDER).get().status == "waived"
    Membership.objects.filter(pk=roster["outsider"].pk).update(left_at=timezone.now())
    reconcile_all()
    assert findings(kind=K.OUTSIDER).get().status == "waived"


def test_expected_nickname_follows_the_employee(org, roster):
    reconcile_all()
    Employee.objects.filter(pk=org["tech_dev"].pk).update(department=org["east"])
    reconcile_all()
    assert findings(kind=K.BAD_NICKNAME).get().detail == "华东区-孙七"


def test_one_live_finding_per_subject_is_enforced_by_the_database(org, roster):
    reconcile_all()
    existing = findings(kind=K.UNAPPROVED_GROUP).first() or findings(kind=K.OUTSIDER).get()
    now = timezone.now()
    twin = {"kind": existing.kind, "group_id": existing.group_id, "membership_id": existing.membership_id}
    with pytest.raises(IntegrityError), transaction.atomic():
        RosterFinding.objects.create(**twin, employee_id=existing.employee_id, first_seen_at=now, last_seen_at=now)
    RosterFinding.objects.create(**twin, status="resolved", resolved_at=now, first_seen_at=now, last_seen_at=now)


def test_group_level_findings_are_unique_too(org):
    reconcile_all()
    existing = findings(kind=K.UNAPPROVED_GROUP).first()
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        RosterFinding.objects.create(kind=existing.kind, group=existing.group, first_seen_at=now, last_seen_at=now)


def test_rows_written_meanwhile_are_skipped_not_duplicated(org, roster):
    """A concurrent run or a redelivered task may store a finding between this run's read and its
    insert: the insert skips it (ON CONFLICT DO NOTHING) and writes the others, values intact."""
    from groups.reconcile import Sighting, _create_new

    reconcile_all()
    now = timezone.now()
    old = findings(kind=K.OUTSIDER).get()
    again = Sighting(K.OUTSIDER, old.group_id, old.membership_id, None, "路人甲")
    new = Sighting(K.BAD_NICKNAME, org["sales_group"].pk, roster["ok"].pk, org["east_rep"].pk, "技术部-张三")
    with transaction.atomic():
        _create_new([again, new], now)
    assert findings(kind=K.OUTSIDER).count() == 1
    assert findings(kind=K.OUTSIDER).get().first_seen_at == old.first_seen_at
    stored = findings(kind=K.BAD_NICKNAME, membership=roster["ok"]).get()
    assert (stored.membership_id, stored.employee_id, stored.detail, stored.status) == (
        roster["ok"].pk, org["east_rep"].pk, "技术部-张三", "open",
    )  # fmt: skip
    assert stored.first_seen_at == stored.last_seen_at == now


def test_reconcile_writes_an_audit_summary(org, roster):
    from auditlog.models import LogEntry

    reconcile_all()
    entry = LogEntry.objects.filter(object_pk="reconcile_all").get()
    assert entry.additional_data["created"] == {"departed_member": 1, "outsider": 1, "bad_nickname": 1}


def _populate(org, n_groups: int) -> None:
    """n groups, each with a departed member, an outsider, a bad and a good nickname, a departed owner."""
    employees = Employee.objects.bulk_create(
        Employee(employee_no=f"X{n_groups}-{i}-{status}", name=f"员工{i}", department=org["east"], status=status)
        for i in range(n_groups)
        for status in ("active", "departed")
    )
    for i in range(n_groups):
        active, departed = employees[2 * i], employees[2 * i + 1]
        kind = "project" if i % 2 else "department"
        group = ChatGroup.objects.create(
            name=f"群{n_groups}-{i}", platform="wechat", kind=kind, department=org["east"], owner=departed,
            end_date=date(2020, 1, 1) if kind == "project" else None,
        )  # fmt: skip
        group.admins.add(active)
        member(group, f"华东区-员工{i}", active)
        member(group, f"员工{i}", departed)
        member(group, f"外人{i}")
        member(group, f"x{i}", org["east_rep"])


def test_query_count_does_not_grow_with_groups(org, django_assert_num_queries):
    """3 groups then 30 groups: the same number of queries (all findings new both times)."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.get_for_model(RosterFinding)  # warm the cache for both runs alike
    _populate(org, 3)
    with CaptureQueriesContext(transaction.get_connection()) as small:
        reconcile_all()
    RosterFinding.objects.all().delete()
    _populate(org, 27)
    with django_assert_num_queries(len(small.captured_queries)):
        summary = reconcile_all()
    assert summary.seen[K.UNAPPROVED_GROUP] == 2 + 30
    assert summary.seen[K.DEPARTED_MEMBER] == summary.seen[K.OWNER_DEPARTED] == 30
    assert summary.seen[K.OUTSIDER] == 30 and summary.seen[K.PROJECT_OVERDUE] == 1 + 13
    assert summary.seen[K.BAD_NICKNAME] == 30


def test_last_seen_comes_from_the_latest_run_without_rewriting_open_rows(org, roster, hr):
    from rest_framework.test import APIClient

    from groups.models import ReconcileRun
    from groups.reconcile import mark_removed

    t1 = timezone.now() - timedelta(days=2)
    t2, t3 = t1 + timedelta(days=1), t1 + timedelta(days=1, hours=1)
    reconcile_all(now=t1)
    reconcile_all(now=t2)
    assert list(ReconcileRun.objects.values_list("finished_at", flat=True)) == [t2, t1]
    assert ReconcileRun.objects.first().summary["still_open"] == 3
    assert set(RosterFinding.objects.values_list("last_seen_at", flat=True)) == {t1}  # stored: untouched
    assert {f.seen_at for f in RosterFinding.objects.with_last_seen()} == {t2}

    # Gone by the third run: resolved, last seen by the second.
    Membership.objects.filter(pk=roster["outsider"].pk).update(left_at=t3)
    reconcile_all(now=t3)
    outsider = findings(kind=K.OUTSIDER).with_last_seen().get()
    assert (outsider.status, outsider.last_seen_at, outsider.seen_at) == ("resolved", t2, t2)

    # Settled by hand: the stored value becomes the latest run's time and stays so.
    departed = findings(kind=K.DEPARTED_MEMBER).get()
    mark_removed([departed.pk], acting_user=hr, now=t3 + timedelta(minutes=5))
    reconcile_all(now=t3 + timedelta(hours=1))
    departed = findings(kind=K.DEPARTED_MEMBER).with_last_seen().get()
    assert (departed.status, departed.last_seen_at, departed.seen_at) == ("resolved", t3, t3)

    api = APIClient()
    api.force_authenticate(hr)
    rows = api.get("/api/v1/findings/?ordering=-last_seen_at").json()["results"]
    by_kind = {row["kind"]: row["last_seen_at"] for row in rows}
    assert by_kind[K.BAD_NICKNAME] == timezone.localtime(t3 + timedelta(hours=1)).isoformat()
    assert rows[0]["kind"] == K.BAD_NICKNAME  # the open one, seen by the latest run, sorts first

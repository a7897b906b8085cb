"""Marking members removed and waiving findings: only open findings, only the chosen memberships,
an earlier departure kept, a waived finding of the same member left waived; overdue defaults."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from groups.choices import FindingKind
from groups.models import ChatGroup, Employee, Membership, RosterFinding
from groups.reconcile import escalate_overdue, mark_removed, overdue_hours, reconcile_all, waive_findings

K = FindingKind
pytestmark = pytest.mark.django_db


@pytest.fixture
def members(org):
    ChatGroup.objects.update(approved_at=timezone.now())
    sales = org["sales_group"]
    made = {
        "departed": Membership.objects.create(group=sales, nickname="华东区-赵六", employee=org["east_departed"]),
        "stranger": Membership.objects.create(group=sales, nickname="路人甲", platform_id="wx_a"),
        "bad": Membership.objects.create(group=sales, nickname="小孙", employee=org["tech_dev"]),
    }
    reconcile_all(now=timezone.now() - timedelta(hours=30))
    return made


def finding(membership):
    return RosterFinding.objects.get(membership=membership)


def test_mark_removed_closes_only_the_chosen_memberships(hr, members):
    assert mark_removed([finding(members["departed"]).pk], acting_user=hr) == 1
    left = {m.pk for m in Membership.objects.filter(left_at__isnull=False)}
    assert left == {members["departed"].pk}
    assert finding(members["stranger"]).status == "open"


def test_mark_removed_without_a_time_uses_now(hr, members):
    before = timezone.now()
    mark_removed([finding(members["stranger"]).pk], acting_user=hr)
    members["stranger"].refresh_from_db()
    assert before <= members["stranger"].left_at <= timezone.now()
    assert before <= finding(members["stranger"]).resolved_at <= timezone.now()


def test_mark_removed_keeps_an_earlier_recorded_departure(hr, members):
    earlier = timezone.now() - timedelta(days=2)
    Membership.objects.filter(pk=members["stranger"].pk).update(left_at=earlier)
    assert mark_removed([finding(members["stranger"]).pk], acting_user=hr) == 1
    members["stranger"].refresh_from_db()
    assert members["stranger"].left_at == earlier
    assert finding(members["stranger"]).status == "resolved"


def test_mark_removed_ignores_findings_already_closed(hr, members):
    target = finding(members["stranger"])
    waive_findings([target.pk], reason="外部顾问", acting_user=hr)
    assert mark_removed([target.pk], acting_user=hr) == 0
    members["stranger"].refresh_from_db()
    assert members["stranger"].left_at is None
    target.refresh_from_db()
    assert (target.status, target.waive_reason) == ("waived", "外部顾问")


def test_removal_settles_the_members_open_findings_but_not_a_waived_one(hr, org, members):
    # the same member has a waived nickname finding and an open departed-member finding
    membership = members["bad"]
    nickname = finding(membership)
    waive_findings([nickname.pk], reason="昵称已报备", acting_user=hr)
    org["tech_dev"].status = "departed"
    org["tech_dev"].save()
    reconcile_all()
    departed = RosterFinding.objects.get(membership=membership, kind=K.DEPARTED_MEMBER)
    assert mark_removed([departed.pk], acting_user=hr) == 1
    nickname.refresh_from_db()
    departed.refresh_from_db()
    assert (nickname.status, departed.status) == ("waived", "resolved")


def test_waive_without_a_time_uses_now_and_records_the_trimmed_reason(hr, members):
    before = timezone.now()
    target = finding(members["stranger"])
    assert waive_findings([target.pk], reason="  外部顾问 ", acting_user=hr) == 1
    target.refresh_from_db()
    assert target.waive_reason == "外部顾问" and before <= target.resolved_at <= timezone.now()


def test_waive_skips_findings_that_are_not_open(hr, members):
    target = finding(members["stranger"])
    mark_removed([target.pk], acting_user=hr)
    assert waive_findings([target.pk], reason="迟到的豁免", acting_user=hr) == 0
    target.refresh_from_db()
    assert (target.status, target.waive_reason) == ("resolved", "")


def test_overdue_hours_default_and_setting():
    from groups.models import RosterSettings

    assert overdue_hours() == 24
    RosterSettings.objects.update(departed_finding_overdue_hours=6)
    assert overdue_hours() == 6


def test_escalation_uses_the_default_24_hours(members, settings):
    departed = finding(members["departed"])
    first_seen = departed.first_seen_at
    assert escalate_overdue(now=first_seen + timedelta(hours=23, minutes=59)) == []
    assert escalate_overdue(now=first_seen + timedelta(hours=24)) == [departed.pk]
    assert escalate_overdue(now=first_seen + timedelta(hours=25)) == []  # once only


def test_escalation_claims_departed_member_findings_only(members):
    later = timezone.now() + timedelta(days=5)
    claimed = escalate_overdue(now=later)
    assert claimed == [finding(members["departed"]).pk]
    assert not RosterFinding.objects.exclude(kind=K.DEPARTED_MEMBER).filter(escalated_at__isnull=False).exists()


def test_a_waived_finding_still_present_is_seen_again_and_counted(hr, members):
    target = finding(members["stranger"])
    waive_findings([target.pk], reason="外部顾问", acting_user=hr)
    later = timezone.now() + timedelta(hours=2)
    summary = reconcile_all(now=later)
    target.refresh_from_db()
    assert (target.status, target.last_seen_at) == ("waived", later)
    assert (summary.still_waived, summary.still_open) == (1, 2)  # the departed member and the nickname


def test_a_waived_finding_no_longer_present_keeps_its_time_and_is_not_counted(hr, members):
    target = finding(members["stranger"])
    waive_findings([target.pk], reason="外部顾问", acting_user=hr)
    target.refresh_from_db()
    seen = target.last_seen_at
    Membership.objects.filter(pk=members["stranger"].pk).update(left_at=timezone.now())
    Membership.objects.filter(pk=members["bad"].pk).update(left_at=timezone.now())
    summary = reconcile_all(now=timezone.now() + timedelta(hours=2))
    target.refresh_from_db()
    assert (target.status, target.last_seen_at) == ("waived", seen)
    assert (summary.still_waived, summary.still_open) == (0, 1)  # only the departed member is still there
    assert summary.resolved == {K.BAD_NICKNAME: 1}


def test_escalation_skips_closed_findings_and_returns_only_this_runs_claims(hr, org, members):
    first = finding(members["departed"])
    assert escalate_overdue(now=first.first_seen_at + timedelta(hours=25)) == [first.pk]
    # a second departed member, overdue too, and a third whose finding was already dealt with
    gone = [
        Employee.objects.create(employee_no=no, name=name, department=org["tech"], status="departed")
        for no, name in (("E0202", "周八"), ("E0203", "吴九"))
    ]
    second = Membership.objects.create(group=org["tech_group"], nickname="技术部-周八", employee=gone[0])
    third = Membership.objects.create(group=org["tech_group"], nickname="技术部-吴九", employee=gone[1])
    reconcile_all(now=timezone.now() - timedelta(hours=30))
    mark_removed([RosterFinding.objects.get(membership=third, kind=K.DEPARTED_MEMBER).pk], acting_user=hr)
    later = timezone.now() + timedelta(hours=1)
    assert escalate_overdue(now=later) == [RosterFinding.objects.get(membership=second, kind=K.DEPARTED_MEMBER).pk]


def test_closing_a_finding_before_any_run_keeps_its_stored_time(hr, org):
    seen = timezone.now() - timedelta(days=1)
    target = RosterFinding.objects.create(
        kind=K.UNAPPROVED_GROUP, group=org["sales_group"], first_seen_at=seen, last_seen_at=seen
    )
    assert waive_findings([target.pk], reason="已报备", acting_user=hr) == 1
    target.refresh_from_db()
    assert (target.status, target.last_seen_at) == ("waived", seen)

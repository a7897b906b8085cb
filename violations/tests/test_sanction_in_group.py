"""A carried-out 清出群 closes the membership and bars a rejoin; a carried-out 禁言 leaves its end date
in the group (groups.lifecycle rows, which reconciliation and the admin's queue read)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from groups.choices import FindingKind, RemovalSource, RestrictionKind
from groups.models import ChatGroup, MemberRestriction, Membership, ReportedRemoval, RosterFinding
from groups.reconcile import reconcile_all
from violations import services

from .conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_group(org):
    ChatGroup.objects.update(approved_at=timezone.now())
    return Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")


def removal(violation):
    return violation.sanctions.get(kind="removal")


def test_removal_carried_out_closes_the_membership_and_bars_a_rejoin(org, hr, group_admin, sanction, in_group):
    violation = sanction("B02", at(2026, 11, 2, 10), sanctions=[{"kind": "removal", "days": 30}])
    done_at = timezone.now() - datetime.timedelta(days=3)
    services.record_removal_done(removal(violation), acting_user=group_admin, at=done_at)
    in_group.refresh_from_db()
    assert in_group.left_at == done_at
    report = ReportedRemoval.objects.get(membership=in_group)
    assert (report.source, report.reported_by) == (RemovalSource.SANCTION, group_admin)
    bar = MemberRestriction.objects.get()
    assert (bar.kind, bar.group, bar.employee) == (RestrictionKind.REJOIN_BAR, org["sales_group"], org["east_rep"])
    assert bar.until == timezone.localdate(done_at) + datetime.timedelta(days=30)
    assert bar.source == f"violations.Sanction:{removal(violation).pk}"
    reconcile_all()
    assert not RosterFinding.objects.open().exists()  # the rerun does not reopen the removed member
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    reconcile_all()
    assert list(RosterFinding.objects.open().values_list("kind", flat=True)) == [FindingKind.REJOINED_BARRED]


def test_removal_without_days_is_a_permanent_bar(org, hr, sanction, in_group):
    violation = sanction("B02", at(2026, 11, 2, 10))  # the ladder's removal: no days
    services.record_removal_done(removal(violation), acting_user=hr)
    assert MemberRestriction.objects.get().until is None


def test_mute_carried_out_has_its_end_date(org, hr, sanction, in_group):
    violation = sanction("C10", at(2026, 11, 2, 10), sanctions=[{"kind": "mute", "days": 7}])
    done_at = timezone.now()
    services.record_removal_done(violation.sanctions.get(kind="mute"), acting_user=hr, at=done_at)
    mute = MemberRestriction.objects.mutes().get()
    assert mute.until == timezone.localdate(done_at) + datetime.timedelta(days=7)
    assert mute.reason.startswith("C10")
    in_group.refresh_from_db()
    assert in_group.left_at is None  # muted, not removed


def test_sanction_without_a_group_touches_no_group(org, hr, sanction, in_group):
    violation = sanction("B02", at(2026, 11, 2, 10), group=None)
    services.record_removal_done(removal(violation), acting_user=hr)
    in_group.refresh_from_db()
    assert in_group.left_at is None and not MemberRestriction.objects.exists()

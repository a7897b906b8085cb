"""The findings' read side: age filter, "last seen" from the latest run, open flag, latest run time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from groups.choices import FindingKind, FindingStatus
from groups.models import ReconcileRun, RosterFinding

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


def make(org, *, age, status=FindingStatus.OPEN, group="sales_group", **extra):
    seen = NOW - age
    if status != FindingStatus.OPEN:
        extra = {"resolved_at": NOW, "waive_reason": "已报备" if status == FindingStatus.WAIVED else "", **extra}
    kind = FindingKind.UNAPPROVED_GROUP
    return RosterFinding.objects.create(
        kind=kind, group=org[group], first_seen_at=seen, last_seen_at=seen, status=status, **extra
    )


def test_older_than_keeps_findings_first_seen_before_the_cut(org):
    old = make(org, age=timedelta(days=8))
    make(org, age=timedelta(days=6), group="tech_group")
    assert list(RosterFinding.objects.older_than(timedelta(days=7), now=NOW)) == [old]
    assert set(RosterFinding.objects.older_than(timedelta(days=7))) == {old}  # default: now


def test_open_findings_were_last_seen_by_the_latest_run(org):
    found = make(org, age=timedelta(days=3))
    closed = make(org, age=timedelta(days=3), status=FindingStatus.RESOLVED, group="tech_group")
    ReconcileRun.objects.create(finished_at=NOW - timedelta(days=1))
    ReconcileRun.objects.create(finished_at=NOW)
    ReconcileRun.objects.create(finished_at=NOW - timedelta(days=2))
    seen = dict(RosterFinding.objects.with_last_seen().values_list("pk", "seen_at"))
    assert seen == {found.pk: NOW, closed.pk: NOW - timedelta(days=3)}
    assert ReconcileRun.latest_at() == NOW


def test_without_runs_an_open_finding_keeps_its_stored_time(org):
    found = make(org, age=timedelta(days=3))
    assert RosterFinding.objects.with_last_seen().get().seen_at == found.last_seen_at
    assert ReconcileRun.latest_at() is None


def test_is_open(org):
    assert make(org, age=timedelta(days=1)).is_open
    assert not make(org, age=timedelta(days=1), status=FindingStatus.WAIVED, group="tech_group").is_open

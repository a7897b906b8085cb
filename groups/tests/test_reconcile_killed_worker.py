"""A reconciliation whose whole worker is killed (SIGKILL, main process and pool) is finished by the
next worker within a minute, with exactly the findings an uninterrupted run writes.

No test hook in the code under test: the test holds the findings table locked, so the first worker's
run stops inside its transaction — job lock taken, memberships read, findings not yet written — and
is killed there. Needs PostgreSQL and Redis (marker ``worker``).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from groups.choices import EmployeeStatus
from groups.models import ChatGroup, Employee, Membership, ReconcileRun, RosterFinding
from groups.reconcile import reconcile_all
from groups.tasks import RECONCILE_LOCK, reconcile_groups_task
from portal.locks import advisory_key
from portal.tests.processes import (
    child_database_url,
    kill_group,
    kill_running,
    start_worker,
    wait_for,
    waiting_on_a_lock,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

COMPARED = ["kind", "group_id", "membership_id", "employee_id", "detail", "suggested_successor_id", "status"]


def _roster(org) -> None:
    ChatGroup.objects.update(approved_at=org["sales_group"].created_at)
    staff = Employee.objects.bulk_create(
        Employee(
            employee_no=f"K{i:04d}",
            name=f"员工{i:03d}",
            department=org["east"] if i % 2 else org["tech"],
            status=EmployeeStatus.DEPARTED if i % 5 == 0 else EmployeeStatus.ACTIVE,
        )
        for i in range(60)
    )
    members = []
    for group in (org["sales_group"], org["tech_group"]):
        for i, person in enumerate(staff):
            nickname = f"{person.department.name}-{person.name}" if i % 7 else person.name  # some bad nicknames
            members.append(
                Membership(group=group, nickname=nickname, platform_id=f"wx_{group.pk}_{i}", employee=person)
            )
        members += [
            Membership(group=group, nickname=f"路人{i}", platform_id=f"wx_out_{group.pk}_{i}") for i in range(8)
        ]
    for member in members:
        member.member_key = Membership.key_for(member.platform_id, member.nickname)
    Membership.objects.bulk_create(members)


def _findings() -> list[tuple]:
    return list(RosterFinding.objects.order_by(*COMPARED).values_list(*COMPARED))


def _advisory_lock_held() -> bool:
    key = advisory_key(RECONCILE_LOCK)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid::text::bigint = %s AND objid::text::bigint = %s",
            [(key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0] > 0


def test_killed_worker_run_is_finished_by_the_next_worker_within_a_minute(org):
    _roster(org)
    reconcile_all()  # the uninterrupted run
    expected = _findings()
    assert len(expected) > 50
    RosterFinding.objects.all().delete()
    ReconcileRun.objects.all().delete()

    queue = f"test-kill-{uuid.uuid4().hex[:10]}"
    log = Path(tempfile.mkstemp(prefix="celery-kill-", suffix=".log")[1])
    first = second = None
    blocker = psycopg.connect(child_database_url())
    try:
        blocker.execute("LOCK TABLE groups_rosterfinding IN ACCESS EXCLUSIVE MODE")  # the run stops here
        first = start_worker(queue, f"{queue}-a@localhost", log)
        result = reconcile_groups_task.apply_async(queue=queue)
        wait_for(_advisory_lock_held, 30, "the first worker to take the job lock")
        wait_for(waiting_on_a_lock, 30, "the first worker's run to reach the findings")

        kill_group(first)  # no warm shutdown, no chance to restore or release anything
        killed_at = time.monotonic()
        wait_for(lambda: not _advisory_lock_held(), 5, "the killed run's job lock to go")
        blocker.rollback()  # the test's table lock goes; the dead run's transaction is rolled back

        second = start_worker(queue, f"{queue}-b@localhost", log)
        summary = result.get(timeout=60, propagate=True)
        took = time.monotonic() - killed_at
    finally:
        blocker.close()
        kill_running(first, second)
    output = log.read_text()
    log.unlink(missing_ok=True)

    print(f"killed run finished by the next worker {took:.1f}s after the kill")  # shown with pytest -s
    assert took < 60, f"finished {took:.1f}s after the kill"
    assert "skipped" not in summary and sum(summary["created"].values()) == len(expected)
    assert _findings() == expected, output[-3000:]  # row for row what the uninterrupted run wrote
    assert ReconcileRun.objects.count() == 1  # the killed run left nothing behind

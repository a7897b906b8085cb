"""Reconciliation on a real Celery worker, against Redis and the PostgreSQL test database.

Runs when REDIS_URL and DATABASE_URL are set (CI); then a worker that cannot start fails the test.
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui REDIS_URL=redis://127.0.0.1:6379/3 \\
        pytest -m worker
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from groups.choices import FindingKind
from groups.models import ChatGroup, Membership, RosterFinding
from groups.tasks import reconcile_groups_task
from portal.celery import app

pytestmark = [
    pytest.mark.worker,
]

START_TIMEOUT = 60


def _test_database_url() -> str:
    """The database pytest-django created (test_<name>), for the worker process."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"


def _wait_until_ready(proc: subprocess.Popen, nodename: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        if app.control.ping(destination=[nodename], timeout=1):
            return
    pytest.fail(f"celery worker did not answer within {START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def worker(transactional_db):
    """A `celery -A portal worker` on its own queue; yields the queue name, stops the worker after."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    nodename = f"{queue}@localhost"
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DB_CONN_MAX_AGE": "0"}
    log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-n", nodename, "-Q", queue]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(proc, nodename, log)
        yield queue
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)


def test_reconcile_on_a_real_worker(org, worker):
    sales = org["sales_group"]
    ChatGroup.objects.update(approved_at=sales.created_at)
    departed = Membership.objects.create(group=sales, nickname="华东区-赵六", employee=org["east_departed"])
    outsider = Membership.objects.create(group=sales, nickname="路人甲", platform_id="wx_x")

    assert not app.conf.task_always_eager  # this goes through Redis to the worker process
    summary = reconcile_groups_task.apply_async(queue=worker).get(timeout=120)

    assert summary["created"] == {FindingKind.DEPARTED_MEMBER: 1, FindingKind.OUTSIDER: 1}
    assert set(RosterFinding.objects.open().values_list("kind", "membership_id")) == {
        (FindingKind.DEPARTED_MEMBER, departed.pk),
        (FindingKind.OUTSIDER, outsider.pk),
    }
    outsider.left_at = outsider.created_at
    outsider.save()  # marks the group: the task's incremental run rescans it
    again = reconcile_groups_task.apply_async(queue=worker).get(timeout=120)
    assert again["created"] == {} and again["resolved"] == {FindingKind.OUTSIDER: 1}
    assert RosterFinding.objects.count() == 2

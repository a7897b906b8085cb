"""The nightly detection on real Celery workers (Redis, PostgreSQL): the pass is planned by one task,
its chunks go out as tasks of their own and run on whichever worker is free, and the last chunk ends
the run. A worker killed mid-chunk: the chunk is redelivered to the other worker, which runs it again
to the end without storing anything twice.

Runs when REDIS_URL and DATABASE_URL are set (CI): ``pytest -m worker``.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest

from violations import tasks
from violations.models import ChunkStatus, Detection, DetectionChunk, DetectionRun, Violation
from violations.services.detection import NIGHTLY

from .detection_helpers import at, msg

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GROUPS = 4


@pytest.fixture(autouse=True)
def _catalog(transactional_db):
    """A transactional test before this one may have flushed the seeded catalog: seed it again."""
    import importlib

    from django.apps import apps

    importlib.import_module("violations.migrations.0002_seed_catalog").seed(apps, None)


def _night(org) -> None:
    """``GROUPS`` groups with 3 night messages each by a matched employee."""
    from groups.models import ChatGroup

    groups = [org["sales_group"], org["tech_group"]]
    groups += [
        ChatGroup.objects.create(name=f"项目群{i}", platform="wecom", kind="project", department=org["east"])
        for i in range(GROUPS - 2)
    ]
    for group in groups:
        for m in (31, 40, 50):
            msg(group, f"wx_{group.pk}_{m}", at(2026, 11, 3, 23, m), employee=org["east_rep"])


def test_the_nightly_pass_fans_out_over_two_workers(org):
    from portal.celery import app
    from portal.tests.processes import kill_running, start_worker, wait_for

    _night(org)
    queue = f"test-detect-{uuid.uuid4().hex[:10]}"
    log = Path(tempfile.mkstemp(prefix="celery-detect-", suffix=".log")[1])
    env = {"CELERY_QUEUE": queue, "DETECTION_GROUPS_PER_CHUNK": "1"}  # one chunk per group
    workers = []
    try:
        workers = [start_worker(queue, f"{queue}-{n}@localhost", log, env=env) for n in "ab"]
        assert not app.conf.task_always_eager  # through Redis to the worker processes
        planned = tasks.detect_new_messages_task.apply_async(queue=queue).get(timeout=120)
        run = DetectionRun.objects.get(trigger=NIGHTLY)
        assert planned["chunks"] == {NIGHTLY: GROUPS} and planned["runs"][0] == run.pk
        wait_for(lambda: DetectionRun.objects.get(pk=run.pk).status != "running", 120, "the last chunk")
    finally:
        kill_running(*workers)
    output = log.read_text()
    log.unlink(missing_ok=True)

    run.refresh_from_db()
    assert run.status == "done", output[-3000:]
    assert run.counts["quiet_hours"]["new"] == 3 * GROUPS and Violation.objects.count() == 3 * GROUPS
    chunks = list(DetectionChunk.objects.filter(run=run))
    assert len(chunks) == GROUPS and {c.status for c in chunks} == {ChunkStatus.DONE}
    assert {c.worker for c in chunks} <= {f"{queue}-{n}@localhost" for n in "ab"}
    assert Detection.objects.count() == 3 * GROUPS


def test_a_worker_killed_mid_chunk_leaves_it_to_the_other_worker(org):
    import psycopg

    from portal.tests.processes import (
        child_database_url,
        kill_group,
        kill_running,
        start_worker,
        wait_for,
        waiting_on_a_lock,
    )
    from violations.detection import quiet_hours
    from violations.services import detection as service

    _night(org)
    run = service._plan(None, None, None, acting_user=None, trigger="test", detectors=[quiet_hours.DETECTOR])
    [chunk_id] = service.pending_chunks(run)
    queue = f"test-detect-kill-{uuid.uuid4().hex[:10]}"
    log = Path(tempfile.mkstemp(prefix="celery-detect-kill-", suffix=".log")[1])
    first = second = None
    blocker = psycopg.connect(child_database_url())
    try:
        blocker.execute("LOCK TABLE violations_detection IN ACCESS EXCLUSIVE MODE")  # the chunk stops here
        first = start_worker(queue, f"{queue}-a@localhost", log)
        tasks.detect_chunk_task.apply_async((chunk_id,), queue=queue)
        wait_for(lambda: DetectionChunk.objects.get(pk=chunk_id).status == ChunkStatus.RUNNING, 30, "the chunk")
        wait_for(waiting_on_a_lock, 30, "the first worker's chunk to reach the detections")
        kill_group(first)  # no warm shutdown: the message is neither acknowledged nor given back
        blocker.rollback()
        second = start_worker(queue, f"{queue}-b@localhost", log)
        wait_for(lambda: DetectionRun.objects.get(pk=run.pk).status != "running", 90, "the redelivered chunk")
    finally:
        blocker.close()
        kill_running(first, second)
    output = log.read_text()
    log.unlink(missing_ok=True)

    chunk = DetectionChunk.objects.get(pk=chunk_id)
    assert chunk.status == ChunkStatus.DONE and chunk.attempts == 2, output[-3000:]
    assert chunk.worker == f"{queue}-b@localhost"
    run.refresh_from_db()
    assert run.status == "done" and run.counts["quiet_hours"]["new"] == 3 * GROUPS
    assert Detection.objects.count() == 3 * GROUPS and Violation.objects.count() == 3 * GROUPS

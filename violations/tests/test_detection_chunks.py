"""A detection run in chunks of groups: planned, each chunk run once (also by a second delivery), a
chunk killed half-way run again without doubling, the run ended and summed by its last chunk, and
the nightly task sending one task per chunk (in-process here; a real worker in
test_detection_worker.py)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from violations import tasks
from violations.detection import quiet_hours, runner
from violations.models import ChunkStatus, Detection, DetectionChunk, DetectionRun, Violation
from violations.services import detection as service

from .detection_helpers import at, msg

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_groups(org, monkeypatch):
    """Night messages in two groups, one chunk each (``GROUPS_PER_CHUNK`` = 1)."""
    monkeypatch.setattr(service, "GROUPS_PER_CHUNK", 1)
    rep = org["east_rep"]
    for group, minutes in ((org["sales_group"], (31, 40, 50)), (org["tech_group"], (35, 45))):
        for m in minutes:
            msg(group, f"wx_{group.pk}_{m}", at(2026, 11, 3, 23, m), employee=rep)
    return org


def plan():
    return service._plan(None, None, None, acting_user=None, trigger="test", detectors=[quiet_hours.DETECTOR])


def test_a_run_is_planned_as_one_chunk_per_group_slice(two_groups):
    run = plan()
    chunks = list(run.chunks.order_by("index"))
    assert [c.group_ids for c in chunks] == [[two_groups["sales_group"].pk], [two_groups["tech_group"].pk]]
    assert all(c.status == ChunkStatus.PENDING for c in chunks)
    assert run.status == "running" and run.detectors == ["quiet_hours"] and run.as_of is not None


def test_the_last_chunk_ends_the_run_and_sums_the_counts(two_groups):
    run = plan()
    first, second = service.pending_chunks(run)
    service.run_chunk(first)
    run.refresh_from_db()
    assert run.status == "running" and run.finished_at is None
    assert run.counts["quiet_hours"]["new"] == 3  # the counts so far
    service.run_chunk(second)
    run.refresh_from_db()
    assert run.status == "done" and run.finished_at is not None
    assert run.counts["quiet_hours"] == {"hits": 5, "new": 5, "suspected": 5, "unmatched": 0, "skipped": 0}
    assert Violation.objects.count() == 5


def test_a_chunk_that_ended_is_not_run_again(two_groups, django_assert_max_num_queries):
    run = plan()
    first = service.pending_chunks(run)[0]
    service.run_chunk(first)
    with django_assert_max_num_queries(3):  # a second delivery: the chunk's row, nothing else
        again = service.run_chunk(first)
    assert again.status == ChunkStatus.DONE and again.attempts == 1
    assert Detection.objects.count() == 3


class Killed(BaseException):
    """A worker killed mid-chunk: nothing in this process catches it (the runner catches Exception)."""


def test_a_chunk_killed_half_way_is_run_again_and_stores_nothing_twice(two_groups, monkeypatch):
    monkeypatch.setattr(runner, "BATCH", 2)
    run = plan()
    first, second = service.pending_chunks(run)
    real_store, calls = runner.store, {"n": 0}

    def store_then_die(batch, progress):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Killed
        return real_store(batch, progress)

    monkeypatch.setattr(runner, "store", store_then_die)
    with pytest.raises(Killed):
        service.run_chunk(first)
    chunk = DetectionChunk.objects.get(pk=first)
    assert chunk.status == ChunkStatus.RUNNING and chunk.counts["quiet_hours"]["new"] == 2
    assert Detection.objects.count() == 2  # the first batch stayed

    monkeypatch.setattr(runner, "store", real_store)
    chunk = service.run_chunk(first)  # the redelivered task
    assert chunk.status == ChunkStatus.DONE and chunk.attempts == 2
    assert chunk.counts["quiet_hours"] == {"hits": 3, "new": 3, "suspected": 3, "unmatched": 0, "skipped": 0}
    assert Detection.objects.count() == 3 and Violation.objects.count() == 3
    assert service.pending_chunks(run) == [second]  # only the other chunk is still open
    run.refresh_from_db()
    assert run.status == "running"


def test_a_failed_chunk_fails_the_run_once_every_chunk_has_ended(two_groups):
    from violations.detection.base import Detector

    def broken(window):
        if two_groups["tech_group"].pk in window.group_ids:
            raise RuntimeError("boom")
        yield from quiet_hours.DETECTOR.detect(window)

    run = service.detect_chat(detectors=[Detector("quiet_hours", ("B06",), broken)], trigger="test")
    assert run.status == "failed" and run.errors == ["quiet_hours: boom"]
    assert run.counts["quiet_hours"]["new"] == 3  # the healthy chunk's
    statuses = dict(run.chunks.values_list("index", "status"))
    assert statuses == {0: ChunkStatus.DONE, 1: ChunkStatus.FAILED}


def test_the_nightly_task_sends_one_task_per_chunk(two_groups, monkeypatch):
    sent = []
    real = tasks.detect_chunk_task

    def send(task, *args):
        sent.append((task.name, args))
        task.apply(args)

    monkeypatch.setattr(tasks.outbox, "send", send)
    recent = timezone.localtime(timezone.now() - datetime.timedelta(days=2)).replace(hour=10)  # a day's line
    msg(two_groups["sales_group"], "wx_day", recent, employee=two_groups["east_rep"])
    result = tasks.detect_new_messages_task.apply().get()
    nightly = DetectionRun.objects.get(trigger=service.NIGHTLY)
    chunk_ids = list(nightly.chunks.order_by("index").values_list("pk", flat=True))
    assert result["chunks"][service.NIGHTLY] == 2
    assert [args for name, args in sent if name == real.name][:2] == [(chunk_ids[0],), (chunk_ids[1],)]
    assert nightly.status == "done" and nightly.counts["quiet_hours"]["new"] == 5
    # the deadline pass is its own run, fanned out the same way: the one group with messages in its
    # lookback, R01 and R03 only
    deadlines = DetectionRun.objects.get(trigger=service.DEADLINES)
    assert result["chunks"][service.DEADLINES] == 1 and deadlines.status == "done"
    assert sorted(deadlines.counts) == ["ack_missing", "directive_unanswered"]


def test_the_run_page_shows_its_chunks_progress(two_groups, client, hr):
    from django.urls import reverse

    run = plan()
    service.run_chunk(service.pending_chunks(run)[0], worker="celery@host-a")
    client.force_login(hr)
    listing = client.get(reverse("admin:violations_detectionrun_changelist")).content.decode()
    assert '<progress max="2" value="1"></progress> 1 / 2' in listing
    page = client.get(reverse("admin:violations_detectionrun_change", args=[run.pk])).content.decode()
    assert "celery@host-a" in page and "排队中" in page and "已完成" in page


def test_a_batch_and_its_counts_commit_together(two_groups, monkeypatch):
    """A worker killed while the counts of its second batch are written leaves that batch unwritten
    too: what the chunk says it stored is what it stored, and the rerun counts the rest once."""
    monkeypatch.setattr(runner, "BATCH", 2)
    run = plan()
    first, _second = service.pending_chunks(run)
    real_save, calls = runner.Progress.save, {"n": 0}

    def save_then_die(progress):
        calls["n"] += 1
        real_save(progress)
        if calls["n"] == 2:
            raise Killed  # after the counts' UPDATE, before the batch's commit

    monkeypatch.setattr(runner.Progress, "save", save_then_die)
    with pytest.raises(Killed):
        service.run_chunk(first)
    chunk = DetectionChunk.objects.get(pk=first)
    assert chunk.counts["quiet_hours"]["new"] == Detection.objects.count() == 2
    monkeypatch.setattr(runner.Progress, "save", real_save)
    chunk = service.run_chunk(first)
    assert chunk.counts["quiet_hours"]["new"] == Detection.objects.count() == 3

"""Reconciliation as a job: the Celery task (eager), its lock, enqueueing when the broker is down."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from groups import tasks
from groups.choices import FindingKind
from groups.models import Membership, RosterFinding
from portal.celery import app
from portal.locks import DatabaseLockBackend, RedisLockBackend, job_lock
from portal.models import JobLock


@pytest.fixture
def eager(monkeypatch):
    """Run tasks in-process even when REDIS_URL is set (the CI run with a real worker).

    Not propagating lets eager mode replay retries the way a worker would; ``.get()`` still raises.
    """
    monkeypatch.setattr(app.conf, "task_always_eager", True)
    monkeypatch.setattr(app.conf, "task_eager_propagates", False)


@pytest.fixture
def departed_in_group(org):
    return Membership.objects.create(group=org["sales_group"], nickname="华东区-赵六", employee=org["east_departed"])


def test_task_reconciles_and_returns_a_summary(eager, departed_in_group, settings):
    settings.REDIS_URL = ""  # the embedded default: the lock is a database row
    result = tasks.reconcile_groups_task.delay().get()
    assert result["created"][FindingKind.DEPARTED_MEMBER] == 1
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).count() == 1
    assert not JobLock.objects.exists()  # released


def test_task_skips_while_another_run_holds_the_lock(eager, departed_in_group, settings):
    settings.REDIS_URL = ""
    with job_lock(tasks.RECONCILE_LOCK, ttl=60) as held:
        assert held
        assert tasks.reconcile_groups_task.delay().get() == {"skipped": "locked"}
    assert not RosterFinding.objects.exists()


def test_task_retries_transient_database_errors(eager, departed_in_group, settings, monkeypatch):
    settings.REDIS_URL = ""
    calls = []
    real = tasks.reconcile_all

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real()

    monkeypatch.setattr(tasks, "reconcile_all", flaky)
    result = tasks.reconcile_groups_task.delay().get()
    assert len(calls) == 2 and result["created"][FindingKind.DEPARTED_MEMBER] == 1


def test_task_settings():
    task = tasks.reconcile_groups_task
    assert task.acks_late and task.time_limit and task.soft_time_limit < task.time_limit
    assert OperationalError in task.autoretry_for and task.retry_backoff


def test_beat_schedule_runs_reconciliation_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-groups-daily"]
    assert entry["task"] == tasks.reconcile_groups_task.name
    assert entry["schedule"].hour == {6}
    assert app.conf.beat_schedule.keys() == settings.CELERY_BEAT_SCHEDULE.keys()
    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py modules
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


def test_database_lock_is_exclusive_owned_and_expires(db):
    backend = DatabaseLockBackend()
    assert backend.acquire("job", "a", 60)
    assert not backend.acquire("job", "b", 60)
    assert not backend.release("job", "b")  # not the owner
    assert JobLock.objects.filter(name="job", token="a").exists()
    JobLock.objects.filter(name="job").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert backend.acquire("job", "b", 60)  # a killed holder's lock is taken over after expiry
    assert not backend.release("job", "a")
    assert backend.release("job", "b")


@pytest.mark.redis
def test_redis_lock_is_exclusive_owned_and_expires():
    backend = RedisLockBackend(os.environ["REDIS_URL"])
    name = f"test-{uuid.uuid4().hex}"
    assert backend.acquire(name, "a", 0.3)
    assert not backend.acquire(name, "b", 60)
    assert not backend.release(name, "b")
    assert backend.client.pttl(backend.key(name)) > 0
    import time

    time.sleep(0.4)
    assert backend.acquire(name, "b", 60)
    assert not backend.release(name, "a")
    assert backend.release(name, "b")


def test_enqueue_reconcile_runs_after_commit(eager, departed_in_group, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert tasks.enqueue_reconcile() is True
        assert not RosterFinding.objects.exists()
    assert len(callbacks) == 1
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).exists()


def test_enqueue_reconcile_answers_false_when_the_broker_is_down(db, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    with django_capture_on_commit_callbacks() as callbacks:
        assert tasks.enqueue_reconcile() is False  # answers within the connect timeout, no exception
    assert callbacks == []

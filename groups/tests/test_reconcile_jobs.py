"""Reconciliation as a job: the Celery task (eager), its lock, enqueueing when the broker is down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from groups import tasks
from groups.choices import FindingKind
from groups.models import Membership, RosterFinding
from portal.celery import app
from portal.locks import LOCK_RETRY_COUNTDOWN, job_lock
from portal.models import PendingTask
from portal.tests.processes import child_database_url, child_env


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


def test_task_reconciles_and_returns_a_summary(eager, departed_in_group):
    result = tasks.reconcile_groups_task.delay().get()
    assert result["created"][FindingKind.DEPARTED_MEMBER] == 1
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).count() == 1
    with job_lock(tasks.RECONCILE_LOCK) as held:
        assert held  # released


def test_task_is_retried_not_dropped_while_another_run_holds_the_lock(eager, departed_in_group, monkeypatch):
    """The issue: a redelivered task found the lock taken, returned ``skipped: locked`` and was acked."""
    holder = job_lock(tasks.RECONCILE_LOCK)
    assert holder.__enter__()
    task, real_retry, retries = tasks.reconcile_groups_task, tasks.reconcile_groups_task.retry, []

    def retry_after_the_holder_finished(*args, **kwargs):
        retries.append(kwargs)
        assert not RosterFinding.objects.exists()  # nothing done while the other run holds the lock
        holder.__exit__(None, None, None)  # the other run finishes before the countdown is over
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(task, "retry", retry_after_the_holder_finished)
    result = task.delay().get()
    assert retries[0]["countdown"] == LOCK_RETRY_COUNTDOWN
    assert retries[0]["max_retries"] * LOCK_RETRY_COUNTDOWN > task.time_limit  # outlasts the holder
    assert result["created"][FindingKind.DEPARTED_MEMBER] == 1  # the work is done, once
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).count() == 1


def test_lock_held_raises_retry_in_a_worker(departed_in_group, monkeypatch):
    """What a worker sees (not eager): Retry with a countdown, so the message is re-sent, not acked away."""
    sent = []
    monkeypatch.setattr(tasks.reconcile_groups_task, "apply_async", lambda *a, **kw: sent.append(kw))
    with job_lock(tasks.RECONCILE_LOCK) as held:
        assert held
        tasks.reconcile_groups_task.push_request(called_directly=False, retries=0, is_eager=False)
        try:
            with pytest.raises(Retry):
                tasks.reconcile_groups_task.run()
        finally:
            tasks.reconcile_groups_task.pop_request()
    assert sent and sent[0]["countdown"] == LOCK_RETRY_COUNTDOWN
    assert not RosterFinding.objects.exists()


def test_command_says_another_run_is_in_progress(departed_in_group):
    with job_lock(tasks.RECONCILE_LOCK) as held:
        assert held
        with pytest.raises(CommandError, match="另一次核查正在运行"):
            call_command("reconcile_groups")
    assert not RosterFinding.objects.exists()
    call_command("reconcile_groups")  # the lock went with its holder: the next run goes ahead
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).count() == 1


def test_task_retries_transient_database_errors(eager, departed_in_group, monkeypatch):
    calls = []
    real = tasks.reconcile_all

    def flaky(**kwargs):
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


def test_enqueue_reconcile_runs_after_commit(eager, departed_in_group, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert tasks.enqueue_reconcile() is True
        assert not RosterFinding.objects.exists()
    assert len(callbacks) == 1
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).exists()


def test_enqueue_reconcile_records_the_run_when_the_broker_is_down(db, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.enqueue_reconcile() is False  # answers within the connect timeout, no exception
    assert list(PendingTask.objects.values_list("task_name", flat=True)) == [tasks.reconcile_groups_task.name]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_killed_reconcile_groups_command_does_not_block_the_next_one(departed_in_group):
    """The issue: a killed `manage.py reconcile_groups` left its lock row until someone deleted it."""
    blocker = psycopg.connect(child_database_url())
    blocker.execute("LOCK TABLE groups_rosterfinding IN ACCESS EXCLUSIVE MODE")  # the command stops mid-run
    command = subprocess.Popen(
        [sys.executable, "manage.py", "reconcile_groups"],
        cwd=settings.BASE_DIR,
        env=child_env(REDIS_URL=""),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90  # a child Django start on a loaded machine
        while True:
            with job_lock(tasks.RECONCILE_LOCK) as free:
                if not free:
                    break  # the command holds the lock
            assert time.monotonic() < deadline, "the command never took the lock"
            time.sleep(0.2)
        with pytest.raises(CommandError, match="另一次核查正在运行"):
            call_command("reconcile_groups")  # said clearly while it runs
    finally:
        os.kill(command.pid, signal.SIGKILL)
        command.wait()
        blocker.close()
    call_command("reconcile_groups")  # at once: nothing left behind to delete by hand
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).count() == 1

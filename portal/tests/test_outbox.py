"""portal.outbox: tasks are sent now, or recorded while the broker is down and sent once it is back."""

from __future__ import annotations

import pytest
from celery import signals
from django.conf import settings

from portal import outbox
from portal.celery import app, send_pending_tasks
from portal.models import PendingTask
from portal.tasks import flush_pending_tasks_task

DEAD = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down(monkeypatch):
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app.conf, "broker_url", DEAD)
    return monkeypatch


def test_recorded_while_down_sent_in_order_when_back(db, broker_down, monkeypatch):
    calls = []

    @app.task(name="test.outbox.echo", shared=False)
    def echo(value):
        calls.append(value)

    assert outbox.send_now(echo, 1) is False
    assert outbox.send_now(echo, 2) is False
    assert outbox.send_now(echo, 1) is False  # the same task waiting already: recorded once
    assert list(PendingTask.objects.values_list("args", flat=True)) == [[1], [2]]
    assert outbox.flush() == 0  # still down: nothing sent, nothing lost
    assert PendingTask.objects.count() == 2

    monkeypatch.setattr(app.conf, "task_always_eager", True)
    monkeypatch.setattr(outbox, "_down_until", 0.0)
    assert outbox.flush() == 2
    assert calls == [1, 2] and not PendingTask.objects.exists()


def test_a_failed_send_keeps_the_row_and_counts_the_attempt(db, monkeypatch):
    PendingTask.objects.create(task_name="groups.tasks.reconcile_groups_task", key="k")
    monkeypatch.setattr(outbox, "broker_available", lambda: True)

    def refuse(*args, **kwargs):
        raise ConnectionError("gone again")

    monkeypatch.setattr(app.tasks["groups.tasks.reconcile_groups_task"], "apply_async", refuse)
    assert outbox.flush() == 0
    row = PendingTask.objects.get()
    assert row.attempts == 1 and "gone again" in row.last_error


def test_the_broker_check_is_remembered_briefly(db, broker_down):
    assert outbox.broker_available() is False
    broker_down.setattr(app.conf, "broker_url", "memory://")  # would answer now
    assert outbox.broker_available() is False  # not asked again for BROKER_RETRY_SECONDS
    broker_down.setattr(outbox, "_down_until", 0.0)
    assert outbox.broker_available() is True


def test_pending_tasks_are_flushed_every_minute_and_when_a_worker_starts():
    entry = settings.CELERY_BEAT_SCHEDULE["flush-pending-tasks"]
    assert entry["task"] == flush_pending_tasks_task.name and entry["schedule"] <= 60
    assert send_pending_tasks in [receiver() for _key, receiver in signals.worker_ready.receivers]

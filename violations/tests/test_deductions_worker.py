"""A real Celery worker against the local Redis and PostgreSQL computes and closes a month.

Run with ``REDIS_URL=redis://127.0.0.1:6379/4 DATABASE_URL=postgres://… pytest -m worker``; the
embedded default (no broker) is covered by the eager-mode tests in test_deductions_jobs.py.
"""

from __future__ import annotations

import datetime

import pytest
from celery.contrib.testing.worker import start_worker

from portal.celery import app
from violations import tasks
from violations.choices import DeductionKind, MonthStatus
from violations.models import PerformanceDeduction, PerformanceMonth

from .conftest import at

OCT = datetime.date(2026, 10, 1)
pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _catalog(transactional_db):
    """A transactional test before this one may have flushed the seeded catalog: seed it again."""
    import importlib

    from django.apps import apps

    importlib.import_module("violations.migrations.0002_seed_catalog").seed(apps, None)


def test_real_worker_computes_reruns_and_closes_a_month(org, hr, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0))
    assert not app.conf.task_always_eager
    with start_worker(app, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30):
        first = tasks.compute_deductions_task.delay("2026-10").get(timeout=120)
        again = tasks.compute_deductions_task.delay("2026-10").get(timeout=120)
        closed = tasks.close_deductions_task.delay("2026-10", hr.pk).get(timeout=120)
        refused = tasks.compute_deductions_task.delay("2026-10").get(timeout=120)
    assert first["rows_written"] == 5 and again["rows_written"] == 0 and closed["closed"] is True
    assert "已关账" in refused["refused"][0]
    assert PerformanceMonth.objects.get(month=OCT).status == MonthStatus.CLOSED
    assert PerformanceDeduction.objects.filter(month=OCT, kind=DeductionKind.REGULAR).count() == 5

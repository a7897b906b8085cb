"""The deductions command, the Celery tasks (eager mode), the beat entry and enqueueing."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.months import previous_month
from violations import tasks
from violations.choices import DeductionKind, MonthStatus
from violations.deductions import close_month
from violations.models import PerformanceDeduction, PerformanceMonth

from .conftest import at

OCT = datetime.date(2026, 10, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    """Run tasks in-process even when REDIS_URL is set (the CI run that also starts a real worker)."""
    from portal.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)


def test_command_computes_then_closes(org, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0))
    out = StringIO()
    call_command("compute_deductions", "--month", "2026-10", stdout=out)
    assert "2026-10: 5 employees, 1 sanctions, 5 rows written" in out.getvalue()
    assert PerformanceMonth.objects.get(month=OCT).status == MonthStatus.OPEN
    call_command("compute_deductions", "--month", "2026-10", "--close", stdout=out)
    assert PerformanceMonth.objects.get(month=OCT).status == MonthStatus.CLOSED
    assert "closed" in out.getvalue()
    assert PerformanceDeduction.objects.filter(month=OCT).count() == 5


def test_command_defaults_to_previous_month(org):
    call_command("compute_deductions", stdout=StringIO())
    assert PerformanceMonth.objects.get().month == previous_month()


@pytest.mark.parametrize("month", ["2026/10", "2026-00", "oct"])
def test_command_rejects_bad_month(org, month):
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("compute_deductions", "--month", month, stdout=StringIO())


def test_command_refuses_closed_month(org, hr):
    close_month(OCT, acting_user=hr)
    with pytest.raises(CommandError, match="已关账"):
        call_command("compute_deductions", "--month", "2026-10", stdout=StringIO())


def test_task_computes_in_eager_mode_and_reruns_harmlessly(org, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0))
    first = tasks.compute_deductions_task.delay("2026-10").get()
    second = tasks.compute_deductions_task.delay("2026-10").get()  # a redelivered task
    assert first["employees"] == 5 and first["rows_written"] == 5
    assert second["rows_written"] == 0
    assert PerformanceDeduction.objects.filter(month=OCT, kind=DeductionKind.REGULAR).count() == 5


def test_task_reports_a_closed_month_instead_of_retrying(org, hr):
    close_month(OCT, acting_user=hr)
    result = tasks.compute_deductions_task.delay("2026-10").get()
    assert result["month"] == "2026-10" and "已关账" in result["refused"][0]
    assert tasks.close_deductions_task.delay("2026-10", hr.pk).get()["refused"] == ["already closed"]


def test_close_task_names_the_user(org, hr):
    result = tasks.close_deductions_task.delay("2026-10", hr.pk).get()
    assert result["closed"] is True
    assert PerformanceMonth.objects.get(month=OCT).closed_by == hr


def test_previous_month_task(org):
    result = tasks.compute_previous_month_task.delay().get()
    assert result["month"] == f"{previous_month():%Y-%m}"


def test_task_options_make_reruns_safe():
    task = tasks.compute_deductions_task
    assert task.acks_late and task.max_retries == 5 and task.autoretry_for == tasks.TRANSIENT_ERRORS
    assert task.soft_time_limit < task.time_limit


def test_beat_runs_on_the_first_at_two_for_the_previous_month(settings):
    from portal.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["compute-deductions-previous-month"]
    assert entry["task"] == tasks.compute_previous_month_task.name
    assert entry["task"] in app.tasks
    schedule = entry["schedule"]
    assert schedule.day_of_month == {1} and schedule.hour == {2} and schedule.minute == {0}


def test_enqueue_after_commit(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert tasks.enqueue_deductions("2026-10", user_id=None)
    assert not PerformanceMonth.objects.exists()  # nothing runs before the commit
    callbacks[0]()
    assert PerformanceMonth.objects.filter(month=OCT).exists()


def test_enqueue_answers_false_when_the_broker_is_down(org, monkeypatch):
    app = tasks.compute_deductions_task.app
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:6399/0")  # nothing listens there
    monkeypatch.setitem(app.conf, "broker_transport_options", {"socket_connect_timeout": 0.5, "max_retries": 0})
    assert tasks.enqueue_deductions("2026-10", user_id=None) is False


def test_task_retries_transient_database_errors(org, monkeypatch):
    from django.db import OperationalError

    from portal.celery import app

    monkeypatch.setattr(app.conf, "task_eager_propagates", False)  # let eager mode replay retries
    real, calls = tasks.compute_month, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "compute_month", flaky)
    result = tasks.compute_deductions_task.apply(args=["2026-10"])
    assert result.get()["employees"] == 5 and len(calls) == 3

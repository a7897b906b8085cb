"""With Redis (cache and broker) at a closed port, the API still answers: 2xx/4xx, never 500.

Throttling falls back to per-process counters (portal.cache); work that needs the broker is recorded
and sent once the broker is back (portal.outbox). Both databases.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile

from groups.choices import FindingKind, ImportStatus
from groups.models import ImportJob, RosterFinding
from groups.tasks import reconcile_groups_task, validate_import_task
from groups.tests.import_helpers import EMP_HEADER
from portal import outbox
from portal.api.testing import api_for
from portal.celery import app
from portal.models import PendingTask
from portal.settings import cache_config
from violations.models import Rule
from violations.tasks import recompute_escalation_task

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1
LIST_URLS = [
    "/api/v1/departments/",
    "/api/v1/employees/",
    "/api/v1/groups/",
    "/api/v1/memberships/",
    "/api/v1/findings/",
    "/api/v1/imports/",
    "/api/v1/violations/",
    "/api/v1/appeals/",
    "/api/v1/rules/",
    "/api/v1/deductions/",
    "/api/schema/",
]
EMPLOYEES = "\n".join(
    [
        ",".join(EMP_HEADER),
        "N0001,钱八,总公司/市场部,专员,在职,2026-11-03,,wx_qian",
        "E0102,赵六,总公司/销售部/华东区,,离职,,,wx_zhaoliu",
    ]
).encode("gbk")


@pytest.fixture
def dead_redis(settings, monkeypatch):
    """Cache, broker and result backend all at a closed port, as configured for REDIS_URL; tasks really sent."""
    settings.REDIS_URL = DEAD
    settings.CACHES = cache_config(DEAD)
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app.conf, "broker_url", DEAD)
    monkeypatch.setattr(app.conf, "result_backend", DEAD)
    monkeypatch.setattr(app, "_pool", None)  # connections made for a live broker by earlier tests
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    monkeypatch.setattr(app._local, "backend", app._get_backend(), raising=False)
    monkeypatch.setattr(outbox, "_down_until", 0.0)
    return monkeypatch


def broker_back(monkeypatch) -> None:
    """The broker answers again (tasks run in-process here, as in every non-worker test)."""
    monkeypatch.setattr(app.conf, "task_always_eager", True)
    monkeypatch.setattr(outbox, "_down_until", 0.0)


def _ok(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])


def test_reads_answer(dead_redis, org, hr, head_sales, employee_user):
    started = time.monotonic()
    for user in (hr, head_sales, employee_user):
        client = api_for(user)
        for url in LIST_URLS:
            response = client.get(url)
            _ok(response)
            assert response.status_code in (200, 403), url
    _ok(api_for(hr).get(f"/api/v1/employees/{org['east_rep'].pk}/"))
    assert api_for(None).get("/api/v1/employees/").status_code == 401  # anonymous: anon throttle, then 401
    assert caches["default"].redis_down  # answered from local memory
    assert time.monotonic() - started < 30  # no connect timeout per request


def test_token_login_is_still_throttled_per_process(dead_redis, hr):
    client = api_for(None)
    answers = [
        client.post("/api/v1/auth/token/", {"username": "hr", "password": "wrong"}, format="json").status_code
        for _ in range(12)
    ]
    assert 500 not in answers and answers[0] == 400
    assert answers[-1] == 429  # the login rate (10/min) still holds while Redis is down


def _record_violation(org, hr, code: str) -> int:
    body = {
        "employee": org["east_rep"].pk,
        "rule": Rule.objects.get(code=code).pk,
        "group": org["sales_group"].pk,
        "occurred_at": "2026-11-05T10:00:00+08:00",
        "description": "上班时间发广告",
        "impose_sanctions": True,
    }
    response = api_for(hr).post("/api/v1/violations/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_recording_and_notifying_a_violation_answers(dead_redis, org, hr, django_capture_on_commit_callbacks):
    # on_commit work runs at the end of each block, as it would at the end of the request's transaction
    with django_capture_on_commit_callbacks(execute=True):
        pk = _record_violation(org, hr, "C04")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(hr).post(f"/api/v1/violations/{pk}/notify/")
    assert response.status_code == 200, response.content


def test_changing_a_rules_escalation_is_recomputed_once_the_broker_is_back(
    dead_redis, org, hr, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _record_violation(org, hr, "C06")
    rule = Rule.objects.get(code="C06")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(hr).patch(f"/api/v1/rules/{rule.pk}/", {"repeat_threshold": 3}, format="json")
    assert response.status_code == 200, response.content
    pending = PendingTask.objects.get()
    assert (pending.task_name, pending.args) == (recompute_escalation_task.name, [[org["east_rep"].pk]])

    broker_back(dead_redis)
    assert outbox.flush() == 1
    assert not PendingTask.objects.exists()


def _upload(hr):
    file = SimpleUploadedFile("花名册.csv", EMPLOYEES, content_type="text/csv")
    return api_for(hr).post(
        "/api/v1/imports/", {"file": file, "kind": "employees", "create_departments": "true"}, format="multipart"
    )


def test_small_import_answers_and_its_reconciliation_runs_once_the_broker_is_back(
    dead_redis, org, hr, django_capture_on_commit_callbacks
):
    """Uploads are parsed by the worker (never in the request): with the broker down the validation
    waits; the confirmed small import is written at once and its reconciliation waits, once."""
    from groups import services as group_services

    org["sales_group"].memberships.create(nickname="华东区-赵六", employee=org["east_departed"])
    for _ in range(2):  # a second import: still one reconciliation waiting
        with django_capture_on_commit_callbacks(execute=True):
            response = _upload(hr)
        assert response.status_code == 202, response.content
        job = ImportJob.objects.get(pk=response.json()["id"])
        assert PendingTask.objects.filter(task_name=validate_import_task.name, args=[job.pk]).exists()
        group_services.validate_import(job.pk)  # what the worker does once it gets the task
        with django_capture_on_commit_callbacks(execute=True):
            confirmed = api_for(hr).post(f"/api/v1/imports/{job.pk}/confirm/")
        assert confirmed.status_code == 200, confirmed.content
    PendingTask.objects.filter(task_name=validate_import_task.name).delete()  # run by hand above
    assert list(PendingTask.objects.values_list("task_name", flat=True)) == [reconcile_groups_task.name]
    assert not RosterFinding.objects.exists()

    broker_back(dead_redis)
    assert outbox.flush() == 1
    assert RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER).exists()


def test_large_import_is_accepted_and_validated_once_the_broker_is_back(
    dead_redis, org, hr, settings, django_capture_on_commit_callbacks
):
    settings.ROSTER_IMPORT_ASYNC_ROWS = 1
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(hr)
    assert response.status_code == 202, response.content  # was 503 "queue unavailable"
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.UPLOADED and job.file
    assert PendingTask.objects.get().args == [job.pk]

    broker_back(dead_redis)
    assert outbox.flush() == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = api_for(hr).post(f"/api/v1/imports/{job.pk}/confirm/")
    assert confirmed.status_code == 202, confirmed.content
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE

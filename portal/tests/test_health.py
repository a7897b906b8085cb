"""Probes, request ids and structured logs."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.db import OperationalError, connections

from portal.logging import ContextFilter, JsonFormatter, request_id_var


def test_healthz_answers_without_database_host_check_or_ssl_redirect(client, settings):
    # No db fixture: any query would raise "Database access not allowed".
    settings.ALLOWED_HOSTS = ["qungui.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Cache-Control"] == "no-store"


def test_healthz_head_and_trailing_slash(client):
    assert client.head("/healthz").status_code == 200
    assert client.get("/healthz/").status_code == 200


@pytest.mark.django_db
def test_readyz_ok_when_database_up_and_migrations_applied(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz", HTTP_HOST="10.0.3.7")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "skipped", "migrations": "ok"},
        "failing": [],
    }


@pytest.mark.django_db
def test_readyz_503_names_unreachable_redis(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"].startswith("error: ConnectionError")
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_503_names_unapplied_migrations(client, settings, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    settings.REDIS_URL = ""
    real_plan = MigrationExecutor.migration_plan

    def plan_with_pending(self, targets, clean_start=False):
        assert real_plan(self, targets, clean_start) == []  # the test DB itself is fully migrated
        migration = self.loader.get_migration("groups", "0001_initial")
        return [(migration, False)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", plan_with_pending)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert "groups.0001_initial" in response.json()["checks"]["migrations"]


@pytest.mark.django_db
def test_readyz_503_when_database_fails(client, settings, monkeypatch):
    settings.REDIS_URL = ""
    settings.DATABASES["default"]["PASSWORD"] = "s3cret-pw"

    def broken_cursor(*args, **kwargs):
        raise OperationalError('connection to server at "db" failed: password s3cret-pw rejected')

    monkeypatch.setattr(connections["default"], "cursor", broken_cursor)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["migrations"] == "not checked"
    assert "s3cret-pw" not in response.content.decode()


def test_request_id_generated_and_echoed(client):
    response = client.get("/healthz")
    generated = response["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz")["X-Request-ID"] != generated
    assert client.get("/healthz", HTTP_X_REQUEST_ID="proxy-abc-12345")["X-Request-ID"] == "proxy-abc-12345"
    # Not a safe id (spaces, newline injection): replaced, not echoed.
    assert client.get("/healthz", HTTP_X_REQUEST_ID="evil id\nX: y")["X-Request-ID"] != "evil id\nX: y"


@pytest.mark.django_db
def test_request_log_line_is_json_with_request_id(client, hr):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("qungui.request")
    logger.addHandler(handler)
    try:
        client.force_login(hr)
        response = client.get("/dashboard/", HTTP_X_REQUEST_ID="req-test-0001")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    home = next(line for line in lines if line["path"] == "/dashboard/")
    assert home["request_id"] == "req-test-0001"
    assert home["status"] == 200
    assert home["method"] == "GET"
    assert home["user_id"] == hr.pk
    assert home["level"] == "INFO"
    assert home["time"].endswith("+00:00")


def test_json_formatter_fields_extras_and_exceptions():
    token = request_id_var.set("rid-42")
    try:
        record = logging.LogRecord("x.y", logging.ERROR, __file__, 1, "失败 %s", ("原因",), None)
        record.rows = 12
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
        ContextFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "失败 原因"
    assert line["request_id"] == "rid-42"
    assert line["rows"] == 12
    assert "ValueError: boom" in line["exc_info"]
    assert "task_id" not in line


@pytest.mark.django_db
def test_celery_task_log_lines_carry_task_id_and_name(org):
    from groups.tasks import anonymize_departed_task

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("groups.tasks")
    logger.addHandler(handler)
    try:
        anonymize_departed_task.apply(task_id="task-abc-123")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["task_id"] == "task-abc-123"
    assert line["task_name"] == "portal.anonymize_departed"
    assert line["employees"] == 0

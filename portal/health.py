"""Liveness (/healthz) and readiness (/readyz) probes for the load balancer and the orchestrator.

/healthz: the process answers; touches neither the database nor Redis (a database outage must not
make every web replica "dead" and restart in a loop).
/readyz: the database answers a query, Redis answers PING (when REDIS_URL is set), and every
migration on disk is applied (the separate migrate step has run). 503 and a JSON body naming the
failing checks otherwise.

HealthCheckMiddleware answers both before host validation, the SSL redirect, sessions, CSP and
login, because probes come over plain HTTP with the container's address as Host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_redis() -> str:
    if not settings.REDIS_URL:
        return "skipped"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_migrations() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:5])
        raise RuntimeError(f"{len(plan)} unapplied migration(s): {names}")
    return "ok"


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "migrations": check_migrations,
}


def run_checks() -> tuple[dict[str, str], list[str]]:
    results: dict[str, str] = {}
    failing: list[str] = []
    for name, check in READINESS_CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # any failure makes the instance not ready; say which and why
            logger.warning("readiness check %s failed: %s", name, exc, exc_info=True)
            failing.append(name)
            # The class name and a short message; no connection strings (they may hold passwords).
            results[name] = f"error: {type(exc).__name__}: {_short(exc)}"
            if name == "database":  # nothing else is meaningful without the database
                results["migrations"] = "not checked"
                break
    return results, failing


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    password = settings.DATABASES["default"].get("PASSWORD")
    return text.replace(password, "***") if password else text


def readyz(request: HttpRequest) -> JsonResponse:
    results, failing = run_checks()
    body = {"status": "fail" if failing else "ok", "checks": results, "failing": failing}
    return JsonResponse(body, status=503 if failing else 200, json_dumps_params={"ensure_ascii": False})


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/healthz/": healthz,
    "/readyz": readyz,
    "/readyz/": readyz,
}


class HealthCheckMiddleware:
    """Answer the probes first; every other request passes through untouched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            response = probe(request)
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)

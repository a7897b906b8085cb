"""Helpers for tests that start other processes (a Celery worker, a lock holder) on the test database."""

from __future__ import annotations

import os
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def test_database_url() -> str:
    """The database pytest-django created (test_<name>), for another process; "" on SQLite."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return ""
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that shares this test's database and lock folder."""
    env = {**os.environ, "DB_CONN_MAX_AGE": "0", "QUNGUI_LOCK_DIR": str(settings.QUNGUI_LOCK_DIR), **extra}
    url = test_database_url()
    if url:
        env["DATABASE_URL"] = url
    else:
        env.pop("DATABASE_URL", None)
    return env

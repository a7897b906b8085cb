"""Helpers for tests that start other processes (a Celery worker, a lock holder) on the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def child_database_url() -> str:
    """The database pytest-django created (test_<name>), for another process; "" on SQLite."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return ""
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that shares this test's database and lock folder."""
    env = {**os.environ, "DB_CONN_MAX_AGE": "0", "QUNGUI_LOCK_DIR": str(settings.QUNGUI_LOCK_DIR), **extra}
    url = child_database_url()
    if url:
        env["DATABASE_URL"] = url
    else:
        env.pop("DATABASE_URL", None)
    return env


WORKER_START_TIMEOUT = 60


def start_worker(
    queue: str, nodename: str, log: Path, *, pool: str = "prefork", env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A `celery -A portal worker` consuming ``queue``, in its own process group (to be killed whole);
    ``env``: more of its environment."""
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", f"--pool={pool}", "--concurrency=1"]
    command += ["-n", nodename, "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    with log.open("a") as out:
        proc = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=child_env(**(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    from portal.celery import app

    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"celery worker exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        if app.control.ping(destination=[nodename], timeout=1):
            return proc
    kill_group(proc)
    raise AssertionError(f"celery worker did not answer within {WORKER_START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Kill the worker's whole process group (main process and pool children), as a lost machine would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def kill_running(*procs: subprocess.Popen | None) -> None:
    """A test's teardown: kill every worker it started that still runs (None: never started)."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            kill_group(proc)


def wait_for(predicate, seconds: float, what: str) -> None:
    """Poll ``predicate`` every 0.2 s until it holds; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def waiting_on_a_lock() -> bool:
    """Some session of this test's database waits for a lock (a worker stopped by the test's LOCK TABLE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0

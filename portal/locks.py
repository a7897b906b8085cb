"""Locks for periodic jobs, so that two runs of one job never overlap — and die with their holder.

A lock that outlives a killed holder loses work: the old ``SET NX PX`` key / ``JobLock`` row stayed
for its whole TTL (≈ 26 minutes), so the redelivered task found it taken and was dropped. Here the
lock is something the operating system or the database server releases when the holder's process
dies, so there is no TTL to guess and nothing to clean up by hand:

- PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection opened for the lock alone
  (not Django's, which may be closed or reused by ``CONN_MAX_AGE``/health checks mid-job). When
  the process dies its socket closes and the server ends the session, which drops the lock at
  once; a vanished host is noticed by the TCP keepalives set on that session (≈ 1 minute). The lock
  lives where the protected data lives, so it also works with Redis down. (It needs a direct or
  session-pooled connection: PgBouncer in transaction mode would mix sessions.)
- SQLite (the embedded default: one machine): ``fcntl.flock`` on a file in ``QUNGUI_LOCK_DIR``;
  the kernel drops it when the process exits, however it exits.

Celery tasks use :func:`task_lock`, which retries the task later instead of dropping it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

# Seconds before a task that found its lock held tries again.
LOCK_RETRY_COUNTDOWN = 30
# Keepalives on the lock's own session, so that the server drops the lock of a host that vanished
# without closing its socket (power loss, network partition) within about a minute.
_KEEPALIVE_SETTINGS = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


class Lock(Protocol):
    def acquire(self) -> bool: ...

    def release(self) -> None: ...


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` (one per lock name)."""
    digest = hashlib.blake2b(f"qungui:lock:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """``pg_try_advisory_lock`` held by a dedicated connection for as long as the job runs."""

    def __init__(self, name: str, using: str = "default") -> None:
        self.name, self.using, self.key = name, using, advisory_key(name)
        self._conn = None

    def acquire(self) -> bool:
        db = connections[self.using]
        params = db.get_connection_params()
        conn = db.Database.connect(**params)  # type: ignore[attr-defined]  # the backend's driver module
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                for setting, value in _KEEPALIVE_SETTINGS.items():
                    cursor.execute(f"SET {setting} = {int(value)}")
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                held = bool(cursor.fetchone()[0])
        except BaseException:
            conn.close()
            raise
        if held:
            self._conn = conn
        else:
            conn.close()
        return held

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        except Exception:  # the session is gone: so is its lock
            logger.warning("job lock %s: its session ended before the job did", self.name, exc_info=True)
        finally:
            conn.close()


class FileLock:
    """An exclusive ``flock`` on ``QUNGUI_LOCK_DIR/<name>.lock``; the kernel drops it with the process."""

    def __init__(self, name: str) -> None:
        self.name = name
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self.path = Path(settings.QUNGUI_LOCK_DIR) / f"{safe}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


def make_lock(name: str, using: str = "default") -> Lock:
    """The lock for ``name`` on the database ``using``: advisory on PostgreSQL, a file lock otherwise."""
    if connections[using].vendor == "postgresql":
        return AdvisoryLock(name, using)
    return FileLock(name)


@contextmanager
def job_lock(name: str, *, using: str = "default") -> Iterator[bool]:
    """Yield True if this caller holds the lock ``name``, else False; released on exit.

    ``with job_lock("reconcile") as held: if not held: ...`` — there is no expiry: the lock is held
    exactly as long as the block runs, or until the holding process dies.
    """
    lock = make_lock(name, using)
    held = lock.acquire()
    if not held:
        logger.info("job lock %s is held by another run", name)
    try:
        yield held
    finally:
        if held:
            lock.release()


@contextmanager
def task_lock(task, name: str, *, countdown: int = LOCK_RETRY_COUNTDOWN) -> Iterator[None]:
    """Run a bound Celery task's body under ``job_lock(name)``; if another run holds it, retry later.

    The retry is bounded: enough attempts to outlast the holder's hard time limit, after which the
    task fails loudly (MaxRetriesExceededError) rather than vanish.
    """
    with job_lock(name) as held:
        if not held:
            limit = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
            max_retries = max(task.max_retries or 0, limit // countdown + 2)
            logger.info("%s: lock %s held by another run; retrying in %ss", task.name, name, countdown)
            raise task.retry(countdown=countdown, max_retries=max_retries)
        yield

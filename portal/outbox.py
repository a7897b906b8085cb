"""Tasks that need the broker are never lost to a broker outage: sent now, or recorded and sent later.

``send(task, *args)`` sends a Celery task at once when the broker answers; when it does not (or did
not a moment ago), the task is written to ``portal.PendingTask`` instead and :func:`flush` sends it
once the broker is back — every minute from beat (``flush-pending-tasks``) and whenever a worker
starts. The caller's request carries on: an API call answers 2xx, not 500 or a 20-second hang.

The broker check is cheap and bounded: one connect with the broker's connect timeout, and after a
failure this process records without trying again for ``BROKER_RETRY_SECONDS``. (Sending to a dead
Redis without the check held ``delay()`` for ~20 s of result-store reconnects, then RuntimeError.)
Tasks must be idempotent: a row whose sending failed half-way may be sent twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time

from django.db import transaction
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

BROKER_RETRY_SECONDS = 10
FLUSH_BATCH = 200
SEND_ERRORS = (KombuError, RedisError, OSError, RuntimeError)  # RuntimeError: celery's result-store retry limit

_state = threading.local()
_down_until = 0.0


def _app():
    from .celery import app

    return app


def broker_available() -> bool:
    """True when tasks run in-process (eager) or the broker answers within its connect timeout."""
    global _down_until
    app = _app()
    if app.conf.task_always_eager:
        return True
    if time.monotonic() < _down_until:
        return False
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except SEND_ERRORS as exc:
        logger.warning("Celery broker unavailable: %s", exc)
        _down_until = time.monotonic() + BROKER_RETRY_SECONDS
        return False
    return True


def _key(name: str, args: list, kwargs: dict) -> str:
    payload = json.dumps([name, args, kwargs], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def record(name: str, args: list | tuple = (), kwargs: dict | None = None, *, error: str = ""):
    """Keep a task for later; an identical one already waiting is not recorded twice."""
    from .models import PendingTask

    args, kwargs = list(args), dict(kwargs or {})
    key = _key(name, args, kwargs)
    existing = PendingTask.objects.filter(key=key).first()
    if existing is not None:
        return existing
    logger.warning("broker down: %s(%s) recorded, to be sent later", name, args)
    return PendingTask.objects.create(task_name=name, args=args, kwargs=kwargs, key=key, last_error=error[:2000])


def send_now(task, *args, **kwargs) -> bool:
    """Send ``task`` now if the broker answers, else record it; True if it was sent (or ran eagerly)."""
    global _down_until
    if not broker_available():
        record(task.name, args, kwargs, error="broker unavailable")
        return False
    try:
        task.apply_async(args, kwargs)
    except SEND_ERRORS as exc:
        _down_until = time.monotonic() + BROKER_RETRY_SECONDS
        record(task.name, args, kwargs, error=str(exc))
        return False
    return True


def send(task, *args, **kwargs) -> None:
    """Send ``task`` once the current transaction commits (at once outside one), or record it for later."""
    transaction.on_commit(lambda: send_now(task, *args, **kwargs), robust=True)


def flush(*, limit: int = FLUSH_BATCH) -> int:
    """Send the recorded tasks, oldest first; stops at the first failure. Returns how many were sent."""
    from .models import PendingTask

    app, sent = _app(), 0
    if not broker_available():
        return 0
    with transaction.atomic():
        rows = list(PendingTask.objects.select_for_update(skip_locked=True).order_by("pk")[:limit])
        for row in rows:
            try:
                task = app.tasks.get(row.task_name)
                if task is None:  # not imported in this process: by name
                    app.send_task(row.task_name, args=row.args, kwargs=row.kwargs)
                else:
                    task.apply_async(row.args, row.kwargs)
            except SEND_ERRORS as exc:
                PendingTask.objects.filter(pk=row.pk).update(attempts=row.attempts + 1, last_error=str(exc)[:2000])
                logger.warning("pending task %s not sent yet: %s", row.task_name, exc)
                break
            row.delete()
            sent += 1
    if sent:
        logger.info("sent %d task(s) recorded while the broker was down", sent)
    return sent

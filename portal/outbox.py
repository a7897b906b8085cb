"""Tasks that need the broker are never lost to a broker outage: sent now, or recorded and sent later.

``send(task, *args)`` sends a Celery task at once when the broker answers; when it does not (or did
not a moment ago), the task is written to ``portal.PendingTask`` instead and :func:`flush` sends it
once the broker is back — every minute from beat (``flush-pending-tasks``) and whenever a worker
starts. The caller's request carries on: an API call answers 2xx, not 500 or a 20-second hang.

The broker check is cheap and bounded: one connect with the broker's connect timeout, and after a
failure this process records without trying again for ``BROKER_RETRY_SECONDS``. (Sending to a dead
Redis without the check held ``delay()`` for ~20 s of result-store reconnects, then RuntimeError.)
Tasks must be idempotent: a row whose sending failed half-way may be sent twice.

``send_after_response(task, *args)`` is ``send`` for work that must never make a web request wait
(the reconciliation after a roster import). With a broker it is ``send``: a worker runs it. Where
tasks run in-process (the embedded default, eager Celery) ``send`` would run it inside the request;
instead, on commit it is recorded here (a ``PendingTask`` row: durable, deduplicated) and when the
response has been sent (Django's ``request_finished``) :func:`flush` runs it in a background thread
of the same process. A process killed in between leaves the row, which the next flush runs. Outside
a request (commands, tasks, the shell) it runs at once, as before.
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
    if error:
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


def _request_started(**kwargs) -> None:
    _state.in_request = True
    _state.after_response = False


def _request_finished(**kwargs) -> None:
    run = getattr(_state, "after_response", False)
    _state.in_request = _state.after_response = False
    if run:
        run_after_response(flush)


def connect_signals() -> None:
    from django.core.signals import request_finished, request_started

    request_started.connect(_request_started, dispatch_uid="qungui_outbox_request_started")
    request_finished.connect(_request_finished, dispatch_uid="qungui_outbox_request_finished")


def _in_thread(work) -> None:
    """Run ``work`` in a daemon thread with database connections of its own (closed afterwards)."""

    def target() -> None:
        from django.db import connections

        try:
            work()
        except Exception:
            logger.exception("work after the response failed (the recorded task stays for the next flush)")
        finally:
            connections.close_all()

    threading.Thread(target=target, name="qungui-after-response", daemon=True).start()


def run_after_response(work) -> None:
    """How work deferred past the response runs: a background thread; settings may say inline
    (``QUNGUI_AFTER_RESPONSE_INLINE``: the tests, whose database a thread cannot see)."""
    from django.conf import settings

    if getattr(settings, "QUNGUI_AFTER_RESPONSE_INLINE", False):
        work()
    else:
        _in_thread(work)


def send_after_response(task, *args, **kwargs) -> None:
    """Like :func:`send`, but never inside a web request when tasks run in-process (module doc)."""
    if not (_app().conf.task_always_eager and getattr(_state, "in_request", False)):
        send(task, *args, **kwargs)
        return

    def later() -> None:
        record(task.name, args, kwargs)
        _state.after_response = True

    transaction.on_commit(later, robust=True)


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

"""Background work of the violations app: thin wrappers around services, safe to run twice.

Tasks take ids (a month is its "YYYY-MM"). A deductions computation is one transaction that locks
the month (see violations.deductions): a worker killed mid-way rolls back, the task is redelivered
(acks late) and the rerun writes the same rows.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from groups.models import Employee
from portal import outbox
from portal.choices import Channel
from portal.months import parse_month, previous_month

from .deductions import close_month, compute_month
from .models import PerformanceMonth
from .reports import jobs as export_jobs
from .services import recompute_escalation

logger = logging.getLogger(__name__)

DEDUCTIONS_SOFT_LIMIT = 15 * 60
DEDUCTIONS_TIME_LIMIT = 20 * 60
# Transient: a database restart, failover or a lock timeout; retried with backoff.
TRANSIENT_ERRORS = (OperationalError,)
BROKER_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)
TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": DEDUCTIONS_SOFT_LIMIT,
    "time_limit": DEDUCTIONS_TIME_LIMIT,
}


@shared_task(acks_late=True)
def recompute_escalation_task(employee_ids: list[int]) -> dict[str, int]:
    """Recompute the ladder for these employees (idempotent: a rerun creates and withdraws nothing)."""
    created = withdrawn = 0
    for employee in Employee.objects.filter(pk__in=employee_ids).order_by("pk"):
        result = recompute_escalation(employee, acting_user=None, channel=Channel.SYSTEM)
        created += len(result.created)
        withdrawn += len(result.withdrawn)
    return {"employees": len(employee_ids), "created": created, "withdrawn": withdrawn}


def _user(user_id: int | None):
    return None if user_id is None else get_user_model().objects.get(pk=user_id)


@shared_task(**TASK_OPTIONS)
def compute_deductions_task(self, month: str, user_id: int | None = None) -> dict:
    """(Re)compute an open month; a closed month is reported, not retried (it is frozen on purpose)."""
    try:
        return compute_month(month, acting_user=_user(user_id), channel=Channel.SYSTEM).as_dict()
    except ValidationError as exc:
        logger.warning("compute_deductions %s refused: %s", month, exc.messages)
        return {"month": month, "refused": exc.messages}


@shared_task(**TASK_OPTIONS)
def close_deductions_task(self, month: str, user_id: int) -> dict:
    """Compute a month one last time and close it; closing an already closed month is a no-op."""
    if PerformanceMonth.objects.closed().filter(month=parse_month(month)).exists():
        return {"month": month, "refused": ["already closed"]}
    try:
        return close_month(month, acting_user=_user(user_id), channel=Channel.ADMIN).as_dict()
    except ValidationError as exc:
        logger.warning("close_deductions %s refused: %s", month, exc.messages)
        return {"month": month, "refused": exc.messages}


@shared_task(**TASK_OPTIONS)
def compute_previous_month_task(self) -> dict:
    """Beat, on the 1st at 02:00: compute the month that just ended (HR reviews, then closes it)."""
    return compute_deductions_task.run(f"{previous_month():%Y-%m}")


def enqueue_deductions(month: str, *, user_id: int | None, close: bool = False) -> bool:
    """Queue a computation (or a close) to be sent after the current transaction commits.

    Returns False when the broker is unreachable, so a page can say so instead of failing with a
    500; nothing is lost: the month is simply not computed yet and can be requested again.
    """
    if not outbox.broker_available():
        return False
    task = close_deductions_task if close else compute_deductions_task

    def send() -> None:
        try:
            task.delay(month, user_id)
        except BROKER_ERRORS as exc:  # the broker went away between the check and the commit
            logger.error("Celery broker unavailable, %s %s not queued: %s", task.name, month, exc)

    transaction.on_commit(send)
    return True


@shared_task(bind=True, max_retries=3, acks_late=True, ignore_result=True)
def build_export_task(self, job_id: int) -> str:
    """Build one export file. A second delivery finds the job claimed; it retries once the claim is stale.

    The ExportJob row is the result (ignore_result): sending then needs only the broker — with a
    result backend, a Redis that is down held ``delay()`` for 20 s of reconnects, then RuntimeError.
    """
    outcome = export_jobs.run_export(job_id)
    if outcome == "busy":
        raise self.retry(countdown=settings.QUNGUI_EXPORT_STALE_SECONDS)
    return outcome


@shared_task
def expire_exports_task() -> int:
    """Delete export files past their download time (hourly, see CELERY_BEAT_SCHEDULE)."""
    return export_jobs.expire_exports()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def appeal_deadline_reminders_task() -> int:
    """Daily (beat): remind employees two working days before their appeal deadline (once each)."""
    from .notices import send_deadline_reminders

    with transaction.atomic():
        return send_deadline_reminders()


@shared_task(acks_late=True, soft_time_limit=1200, time_limit=1260)
def at_risk_notices_task() -> int:
    """Daily (beat): each department head gets one digest of their employees one step from the next rung."""
    from .notices import notify_at_risk

    with transaction.atomic():
        return notify_at_risk()


# --- chat detection (violations.detection) ------------------------------------------------------

DETECT_LOCK = "detect_chat"
DETECT_OPTIONS = {**TASK_OPTIONS, "soft_time_limit": 30 * 60, "time_limit": 35 * 60}


@shared_task(**DETECT_OPTIONS)
def detect_import_task(self, import_id: int) -> dict:
    """After a chat import: detect over the imported range of its group (idempotent; lock-protected)."""
    from portal.locks import task_lock

    from .services.detection import detect_import

    with task_lock(self, DETECT_LOCK):
        run = detect_import(import_id)
        return {"run": run.pk if run else None, "counts": run.counts if run else {}}


@shared_task(**DETECT_OPTIONS)
def detect_new_messages_task(self) -> dict:
    """Nightly: plan the pass over the messages imported since the last complete nightly pass and the
    deadline rules' pass (R01, R03) over their lookback, then send one ``detect_chunk_task`` per chunk
    of groups, so the chunks run on every worker at once. Planning is under the detection lock (two
    beats never plan twice); the chunks store safely side by side (``violations.detection.runner``)."""
    from portal.locks import task_lock

    from .services.detection import plan_new_messages, plan_pending_deadlines

    with task_lock(self, DETECT_LOCK):
        runs = [plan_new_messages(), plan_pending_deadlines()]
    sent = {run.trigger: dispatch_chunks(run) for run in runs if run is not None}
    return {"runs": [run.pk for run in runs if run is not None], "chunks": sent}


def dispatch_chunks(run) -> int:
    """One ``detect_chunk_task`` per open chunk of ``run``, through the outbox (a broker outage keeps
    them for later; in-process, the embedded default, they run here in turn). Returns how many."""
    from .services.detection import pending_chunks

    ids = pending_chunks(run)
    for chunk_id in ids:
        outbox.send(detect_chunk_task, chunk_id)
    return len(ids)


@shared_task(**DETECT_OPTIONS)
def detect_chunk_task(self, chunk_id: int) -> dict:
    """One chunk of a detection run (``services.detection.run_chunk``). Its own lock keeps a second
    delivery (the broker's redelivery of a slow task) from running it beside the first; run again
    after a kill it stores only what is missing."""
    from portal.locks import task_lock

    from .services.detection import run_chunk

    with task_lock(self, f"detect_chunk:{chunk_id}"):
        chunk = run_chunk(chunk_id, worker=self.request.hostname or "")
    if chunk is None:
        return {"chunk": chunk_id, "status": "missing"}
    return {"chunk": chunk_id, "run": chunk.run_id, "status": chunk.status, "attempts": chunk.attempts}


def on_chat_imported(sender, *, import_id: int, group_id: int, **kwargs) -> None:
    """``groups.signals.chat_imported``: queue the detection of the new messages (never in the request)."""
    outbox.send_after_response(detect_import_task, import_id)

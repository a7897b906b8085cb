"""Celery tasks for the organisation app: roster imports and reconciliation.

Tasks take ids, call services, and may run twice safely."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from portal.locks import job_lock

from . import services
from .reconcile import escalate_overdue, reconcile_all

logger = logging.getLogger(__name__)

RECONCILE_SOFT_LIMIT = 20 * 60
RECONCILE_TIME_LIMIT = 25 * 60
RECONCILE_LOCK = "reconcile_groups"
VALIDATE_SOFT_LIMIT = 10 * 60
ESCALATE_LOCK = "escalate_overdue_findings"
# Transient: a database restart or failover, Redis (the lock) briefly unreachable.
TRANSIENT_ERRORS = (OperationalError, RedisConnectionError, RedisTimeoutError)
BROKER_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=RECONCILE_SOFT_LIMIT,
    time_limit=RECONCILE_TIME_LIMIT,
)
def reconcile_groups_task(self) -> dict:
    """Reconcile all groups (daily by beat, and after roster imports); skipped if a run holds the lock.

    Killed mid-way, the run's transaction rolls back and the redelivered task (acks_late) starts over.
    """
    with job_lock(RECONCILE_LOCK, ttl=RECONCILE_TIME_LIMIT + 60) as held:
        if not held:
            return {"skipped": "locked"}
        return reconcile_all().as_dict()


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=300,
    time_limit=360,
)
def escalate_overdue_task(self) -> list[int]:
    """Escalate departed-member findings open past QUNGUI_DEPARTED_OVERDUE_HOURS (claims are atomic)."""
    with job_lock(ESCALATE_LOCK, ttl=420) as held:
        return escalate_overdue() if held else []


def broker_available() -> bool:
    """True when tasks run eagerly or the broker answers within its connect timeout."""
    app = reconcile_groups_task.app
    if app.conf.task_always_eager:
        return True
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except BROKER_ERRORS as exc:
        logger.warning("Celery broker unavailable: %s", exc)
        return False
    return True


def _send_reconcile() -> None:
    try:
        reconcile_groups_task.delay()
    except BROKER_ERRORS:
        # The daily beat run catches up; nothing the user submitted depends on this message.
        logger.exception("could not enqueue reconcile_groups_task")


def enqueue_reconcile() -> bool:
    """Queue a reconciliation after the current transaction commits.

    Returns False (and queues nothing) when the broker is down, so a page can say "核查稍后自动进行"
    instead of failing with a 500.
    """
    if not broker_available():
        return False
    transaction.on_commit(_send_reconcile, robust=True)
    return True


@shared_task(acks_late=True, soft_time_limit=VALIDATE_SOFT_LIMIT, time_limit=VALIDATE_SOFT_LIMIT + 60)
def validate_import_task(job_id: int) -> str:
    """Validate an upload and store its preview (a timeout leaves the job 失败, not 校验中)."""
    job = services.validate_import(job_id)
    return job.status if job else "skipped"


@shared_task(acks_late=True)
def run_import_task(job_id: int) -> str:
    """Write a confirmed large import."""
    job = services.run_import(job_id)
    return job.status if job else "skipped"


@shared_task
def expire_imports_task() -> int:
    """Delete the files of abandoned, failed and finished uploads past ROSTER_UPLOAD_KEEP_HOURS."""
    return services.expire_imports()

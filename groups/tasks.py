"""Celery tasks for the organisation app: roster imports and reconciliation.

Tasks take ids, call services, and may run twice safely. Also the nightly PIPL retention job."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from portal import outbox
from portal.locks import task_lock

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
    """Reconcile all groups (daily by beat, and after roster imports); retried later while another run
    holds the lock (that run may have read the rosters before this task's import committed).

    Killed mid-way, the run's transaction rolls back, its lock dies with it (portal.locks) and the
    redelivered task (acks_late; portal.leases for a killed worker) starts over.
    """
    with task_lock(self, RECONCILE_LOCK):
        return reconcile_all(full=full_run_due()).as_dict()


def full_run_due() -> bool:
    """A full rescan once a week (RECONCILE_FULL_WEEKDAY, 0 = Monday; -1 never): it catches any change
    that a writer failed to mark (a raw SQL fix, a tree move). Otherwise incremental."""
    return timezone.localdate().weekday() == getattr(settings, "RECONCILE_FULL_WEEKDAY", 6)


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
    """Escalate departed-member findings open past HR's deadline (核查设置; claims are atomic)."""
    with task_lock(self, ESCALATE_LOCK):
        return escalate_overdue()


def enqueue_reconcile() -> bool:
    """Queue a reconciliation after the current transaction commits.

    Returns False when the broker is down: then the reconciliation is recorded and sent once the
    broker is back (portal.outbox), and a page can say "核查稍后自动进行" instead of failing.
    """
    available = outbox.broker_available()
    # Never inside a web request: with eager tasks (embedded default) it runs after the response.
    outbox.send_after_response(reconcile_groups_task)
    return available


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


# Task names stay those of the modules they were first defined in: messages already queued and the
# beat schedule of a running installation keep working across the move.
@shared_task(name="portal.anonymize_departed")
def anonymize_departed_task(older_than_days: int | None = None) -> dict[str, object]:
    """Nightly PIPL retention job: anonymise departed employees past the retention period.

    Idempotent (already anonymised rows are not selected again) and safe to overlap (the service
    skips rows another run holds locked).
    """
    from .privacy import anonymize_departed

    result = anonymize_departed(older_than_days=older_than_days)
    logger.info(
        "anonymised %s departed employee(s)",
        result.employees,
        extra={"employees": result.employees, "memberships": result.memberships, "cutoff": str(result.cutoff)},
    )
    return {"employees": result.employees, "memberships": result.memberships, "cutoff": result.cutoff.isoformat()}


@shared_task(name="portal.tasks.findings_digest_task", acks_late=True, soft_time_limit=600, time_limit=660)
def findings_digest_task() -> int:
    """Daily: each group's owner and admins get their open findings (beat: findings-digest-daily)."""
    from .notices import send_findings_digest

    return send_findings_digest()


@shared_task
def expire_imports_task() -> int:
    """Delete the files of abandoned, failed and finished uploads past ROSTER_UPLOAD_KEEP_HOURS."""
    return services.expire_imports()


@shared_task(acks_late=True, soft_time_limit=VALIDATE_SOFT_LIMIT, time_limit=VALIDATE_SOFT_LIMIT + 60)
def preview_chat_import_task(job_id: int, detect: bool = False) -> str:
    """Read a large chat upload with progress and store its preview (groups.chat.jobs)."""
    from .chat.jobs import preview_job

    job = preview_job(job_id, detect=detect)
    return job.status if job else "skipped"


@shared_task(acks_late=True)
def run_chat_import_task(job_id: int, channel: str | None = None) -> str:
    """Write a confirmed large chat upload in one transaction (groups.chat.jobs)."""
    from .chat.jobs import run_job

    job = run_job(job_id, channel=channel)
    return job.status if job else "skipped"


@shared_task
def recover_chat_imports_task() -> int:
    """Every few minutes: chat imports whose worker died are sent again; abandoned uploads deleted."""
    from .chat.jobs import recover_chat_imports

    return recover_chat_imports()


@shared_task
def purge_chat_bodies_task() -> int:
    """Daily: purge chat message bodies past the HR-set retention (RosterSettings.chat_retention_days)."""
    from .chat.retention import purge_chat_bodies

    return purge_chat_bodies()


WECOM_SYNC_LOCK = "wecom_sync"
WECOM_SYNC_SOFT_LIMIT = 3 * 60 * 60
WECOM_SYNC_RESUME_COUNTDOWN = 5 * 60


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=12,
    soft_time_limit=WECOM_SYNC_SOFT_LIMIT,
    time_limit=WECOM_SYNC_SOFT_LIMIT + 300,
)
def wecom_sync_task(self, trigger: str = "schedule", user_id: int | None = None) -> dict:
    """Daily (beat: wecom-sync-daily, before the reconciliation) and on 立即同步: run or resume the WeCom
    sync under its lock. An interrupted run (rate limit past the back-off, network down) is resumed
    by a retry in a few minutes; a killed worker's run is resumed by the redelivered task."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.contrib.auth import get_user_model

    from .choices import SyncStatus
    from .wecom_sync.client import configured_api
    from .wecom_sync.sync import run_sync, start_sync

    client = configured_api()
    if client is None:
        logger.info("WeCom sync not configured (WECOM_CORP_ID, WECOM_CONTACT_SECRET): skipped")
        return {"status": "not_configured"}
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with task_lock(self, WECOM_SYNC_LOCK):
        run = start_sync(acting_user=user, trigger=trigger)
        try:
            run = run_sync(run, client=client)
        except SoftTimeLimitExceeded:
            from .models import WeComSyncRun

            WeComSyncRun.objects.filter(pk=run.pk, status=SyncStatus.RUNNING).update(status=SyncStatus.INTERRUPTED)
            run.status = SyncStatus.INTERRUPTED
    if run.status == SyncStatus.INTERRUPTED:
        raise self.retry(countdown=WECOM_SYNC_RESUME_COUNTDOWN)
    return {"run": run.pk, "status": run.status, "counts": run.counts}

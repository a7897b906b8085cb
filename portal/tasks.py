"""Celery tasks of the portal app: notification delivery (in batches, a failed row retried alone).

Each takes ids or nothing, calls a service and may run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from . import notifications, outbox

logger = logging.getLogger(__name__)
DELIVERY_MAX_RETRIES = 5


def backoff_seconds(retries: int) -> int:
    """30 s, 60 s, 120 s, … capped at 30 minutes."""
    return min(30 * 2**retries, 1800)


@shared_task(bind=True, acks_late=True, max_retries=DELIVERY_MAX_RETRIES, soft_time_limit=50, time_limit=60)
def deliver_notification_task(self, log_id: int) -> str:
    """Deliver NotificationLog ``log_id``; retried with backoff; marked failed after the last retry."""
    try:
        return notifications.deliver(log_id)
    except notifications.DeliveryError as exc:
        if self.request.retries >= self.max_retries:
            notifications.mark_failed(log_id)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc


def _retry_alone(log_id: int) -> str:
    """A row of a batch whose attempt failed: ``deliver_notification_task`` retries it alone, as its
    first retry (after ``backoff_seconds(0)``), so a row gets as many attempts as one sent alone."""
    if DELIVERY_MAX_RETRIES < 1:
        notifications.mark_failed(log_id)
        return "failed"
    try:
        deliver_notification_task.apply_async((log_id,), countdown=backoff_seconds(0), retries=1)
    except outbox.SEND_ERRORS as exc:  # the broker went away mid-batch: sent once it is back
        outbox.record(deliver_notification_task.name, [log_id], error=str(exc))
    except Exception:  # eager tasks that propagate (the embedded default): the retry ran and raised
        logger.exception("retrying notification %s failed", log_id)
    return "retrying"


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def deliver_notifications_task(log_ids: list[int]) -> dict[str, int]:
    """Deliver a batch of NotificationLog rows (``notifications.BATCH_SIZE`` ids), one after the other,
    over one mail connection; returns how many were sent, skipped, failed or handed on to retry.

    A row that fails (``DeliveryError``) is retried alone (``_retry_alone``); the others carry on. Run
    twice (a message redelivered after its worker was killed) it sends nothing twice: ``deliver``
    skips rows sent, given up, being sent or being retried by their own task (only the row whose send
    the kill cut off before its commit goes out again). Stopped by its soft time limit, it sends the
    rows it has not reached as a new batch.
    """
    counts: dict[str, int] = {}
    rest: list[int] = []
    with notifications.Mailer() as mailer:
        for index, log_id in enumerate(log_ids):
            try:
                result = notifications.deliver(log_id, mailer=mailer, first_attempt=True)
            except SoftTimeLimitExceeded:
                rest = log_ids[index:]  # this row's transaction was rolled back: it goes on too
                break
            except notifications.DeliveryError as exc:
                result = _retry_alone(log_id)
                if isinstance(exc.__cause__, SoftTimeLimitExceeded):  # raised inside the mail backend
                    counts[result] = counts.get(result, 0) + 1
                    rest = log_ids[index + 1 :]
                    break
            counts[result] = counts.get(result, 0) + 1
    if rest:
        logger.warning("notification batch stopped at its time limit: %d row(s) sent on", len(rest))
        notifications._enqueue(rest)
        counts["sent_on"] = len(rest)
    return counts


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def resend_pending_notifications_task() -> int:
    """Re-enqueue deliveries recorded while the broker was down."""
    return notifications.resend_pending()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def flush_pending_tasks_task() -> int:
    """Every minute (beat): send the tasks recorded while the broker was down (portal.outbox)."""
    from . import outbox

    return outbox.flush()

"""Celery tasks of the portal app: notification delivery.

Each takes ids or nothing, calls a service and may run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from . import notifications

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


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def resend_pending_notifications_task() -> int:
    """Re-enqueue deliveries recorded while the broker was down."""
    return notifications.resend_pending()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def flush_pending_tasks_task() -> int:
    """Every minute (beat): send the tasks recorded while the broker was down (portal.outbox)."""
    from . import outbox

    return outbox.flush()

"""Notifications: email (Django's mail settings) and the WeCom group-robot webhook.

Writers call ``send_notification`` (or build rows with ``logs_for`` and hand them to ``record``, as
the organisation's digests in ``groups.notices`` do) inside their own transaction: that only writes
``NotificationLog`` rows and, after commit, enqueues one delivery task per row. Delivery
(``deliver``) runs in ``portal.tasks.deliver_notification_task``, which retries with backoff and
records every attempt, so a mail server or webhook that is down never breaks the job that caused it.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import NotificationChannel, NotificationLog, NotificationStatus

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 5  # seconds: a slow robot must not hold a worker
WECOM_MARKDOWN_LIMIT = 4096  # bytes, the robot API's limit for markdown content


class DeliveryError(Exception):
    """A delivery attempt failed; the task retries it."""


# --- recording -----------------------------------------------------------------------------------


def _enqueue(log_id: int) -> None:
    from . import outbox
    from .tasks import deliver_notification_task

    if not outbox.broker_available():  # checked first: a dead Redis held delay() for ~20 s
        logger.warning("broker down: notification %s stays pending, resent later", log_id)
        return
    try:
        deliver_notification_task.delay(log_id)
    except Exception:  # broker down: the row stays pending and can be re-sent by resend_pending()
        logger.exception("could not enqueue notification %s", log_id)


def record(logs: list[NotificationLog]) -> list[NotificationLog]:
    if not logs:
        return []
    created = NotificationLog.objects.bulk_create(logs)
    for log in created:
        transaction.on_commit(partial(_enqueue, log.pk), robust=True)
    return created


def logs_for(recipients: Iterable, subject: str, body: str, webhook_url: str | None) -> list[NotificationLog]:
    subject = subject[:200]
    logs = [
        NotificationLog(
            channel=NotificationChannel.EMAIL, target=person.email, recipient=person, subject=subject, body=body
        )
        for person in recipients
        if person is not None and person.email
    ]
    if webhook_url:
        first = next(iter(recipients), None)
        logs.append(
            NotificationLog(
                channel=NotificationChannel.WECOM, target=webhook_url, recipient=first, subject=subject, body=body
            )
        )
    return logs


def send_notification(recipient_employee, subject: str, body: str, webhook_url: str | None = None) -> list:
    """Notify one employee by email (if they have one) and optionally a WeCom robot; returns the log rows.

    Delivery happens after the caller's transaction commits, in a retried Celery task.
    """
    return record(logs_for([recipient_employee] if recipient_employee else [], subject, body, webhook_url))


def resend_pending(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Re-enqueue deliveries never attempted (e.g. the broker was down when they were recorded)."""
    stale = NotificationLog.objects.filter(
        status=NotificationStatus.PENDING, attempts=0, created_at__lt=timezone.now() - older_than
    )
    ids = list(stale.values_list("pk", flat=True))
    for pk in ids:
        transaction.on_commit(partial(_enqueue, pk), robust=True)
    return len(ids)


# --- delivering ----------------------------------------------------------------------------------


def _post_wecom(url: str, subject: str, body: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise DeliveryError(f"webhook URL must be http(s): {url!r}")
    content = f"**{subject}**\n{body}".encode()[:WECOM_MARKDOWN_LIMIT].decode(errors="ignore")
    payload = json.dumps({"msgtype": "markdown", "markdown": {"content": content}}, ensure_ascii=False)
    request = urllib.request.Request(  # noqa: S310  scheme checked above
        url, data=payload.encode(), headers={"Content-Type": "application/json; charset=utf-8"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
            answer = response.read(65536)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"webhook: {exc}") from exc
    try:
        errcode = json.loads(answer or b"{}").get("errcode", 0)
    except (ValueError, AttributeError):
        errcode = 0  # a plain "ok" body from a proxy: HTTP 2xx is success
    if errcode:
        raise DeliveryError(f"webhook answered errcode {errcode}: {answer[:200]!r}")


def _send_email(address: str, subject: str, body: str) -> None:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
    except Exception as exc:  # smtplib, socket and backend errors alike mean "try again later"
        raise DeliveryError(f"email: {exc}") from exc


def deliver(log_id: int) -> str:
    """Make one delivery attempt for a log row; idempotent once sent. Raises DeliveryError on failure."""
    log = NotificationLog.objects.filter(pk=log_id).first()
    if log is None or log.status == NotificationStatus.SENT:
        return "skipped"
    NotificationLog.objects.filter(pk=log_id).update(attempts=F("attempts") + 1)
    try:
        if log.channel == NotificationChannel.WECOM:
            _post_wecom(log.target, log.subject, log.body)
        else:
            _send_email(log.target, log.subject, log.body)
    except DeliveryError as exc:
        NotificationLog.objects.filter(pk=log_id).update(status=NotificationStatus.RETRYING, last_error=str(exc)[:2000])
        logger.warning("notification %s failed: %s", log_id, exc)
        raise
    NotificationLog.objects.filter(pk=log_id).update(status=NotificationStatus.SENT, sent_at=timezone.now())
    return "sent"


def mark_failed(log_id: int) -> None:
    """Give up on a delivery after its last retry (the error stays in last_error)."""
    NotificationLog.objects.filter(pk=log_id).exclude(status=NotificationStatus.SENT).update(
        status=NotificationStatus.FAILED
    )

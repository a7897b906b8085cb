"""Notifications: email (Django's mail settings), WeCom application messages (``portal.wecom``, to a
member's WeCom userid) and the WeCom group-robot webhook.

Writers call ``send_notification`` (or build rows with ``logs_for`` and hand them to ``record``, as
the digests in ``groups.notices`` and ``violations.notices`` do) inside their own transaction: that
only writes ``NotificationLog`` rows and, after commit, enqueues their delivery in batches
(``BATCH_SIZE`` row ids per ``portal.tasks.deliver_notifications_task``; one on-commit callback per
``record``). The batch task delivers row by row (``deliver``; one SMTP connection per batch); a row
whose attempt fails is handed to the single-row ``deliver_notification_task``, which retries it alone
with backoff and records every attempt, so a mail server or webhook that is down never breaks the job
that caused it, nor the other rows of its batch.

Each person is told on every channel they have: email if they have an address, a WeCom text card if
they have a WeCom userid and the application is configured (``WECOM_CORP_ID`` …; without it the
channel is not used, which is logged once per process).

Once per event: a row built with ``event=`` carries ``event_key`` = event, recipient and channel,
unique in the table. ``record`` skips keys already recorded and inserts with ON CONFLICT DO NOTHING,
so a job that runs twice records nothing new; ``deliver`` locks the row and skips it once sent, so a
retried or duplicated task (a batch redelivered after its worker was killed) sends it once. A batch
killed half-way leaves its unsent rows pending with no attempt counted: the redelivered batch message
(the broker lease, ``portal.leases``) or ``resend_pending`` delivers them.
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
from django.core.mail import get_connection, send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import NotificationChannel, NotificationLog, NotificationStatus

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 5  # seconds: a slow robot must not hold a worker
WECOM_MARKDOWN_LIMIT = 4096  # bytes, the robot API's limit for markdown content


class DeliveryError(Exception):
    """A delivery attempt failed; the task retries it."""


class DeliveryRejected(Exception):
    """The channel refused the notification for good (e.g. WeCom: unknown userid); not retried."""


_wecom_off_logged = False


def wecom_app_enabled() -> bool:
    """Is the WeCom application channel configured? Logged once per process when it is not."""
    global _wecom_off_logged
    from . import wecom

    if wecom.configured():
        return True
    if not _wecom_off_logged:
        _wecom_off_logged = True
        logger.info("WeCom application not configured (WECOM_CORP_ID/WECOM_AGENT_ID/WECOM_APP_SECRET): email only")
    return False


# --- recording -----------------------------------------------------------------------------------


BATCH_SIZE = 50  # row ids per delivery task


def _enqueue(log_ids: list[int]) -> None:
    """Send the delivery tasks for ``log_ids``, ``BATCH_SIZE`` ids per task (after commit).

    With the broker down the rows stay pending and ``resend_pending`` sends them later.
    """
    from . import outbox
    from .tasks import deliver_notifications_task

    if not log_ids:
        return
    if not outbox.broker_available():  # checked first: a dead Redis held delay() for ~20 s
        logger.warning("broker down: %d notification(s) stay pending, resent later", len(log_ids))
        return
    for start in range(0, len(log_ids), BATCH_SIZE):
        batch = log_ids[start : start + BATCH_SIZE]
        try:
            deliver_notifications_task.delay(batch)
        except Exception:  # broker down: these rows stay pending and can be re-sent by resend_pending()
            logger.exception("could not enqueue %d notification(s) from %s on", len(log_ids) - start, batch[0])
            return  # the next batches would fail (and wait) the same way


KEY_CHUNK = 2000


def _new_keyed(logs: list[NotificationLog]) -> list[NotificationLog]:
    """The keyed rows whose event was not recorded before (nor earlier in ``logs``)."""
    by_key: dict[str, NotificationLog] = {}
    for log in logs:
        by_key.setdefault(log.event_key, log)
    keys = list(by_key)
    for start in range(0, len(keys), KEY_CHUNK):
        for key in NotificationLog.objects.filter(event_key__in=keys[start : start + KEY_CHUNK]).values_list(
            "event_key", flat=True
        ):
            by_key.pop(key, None)
    return list(by_key.values())


def record(logs: list[NotificationLog]) -> list[NotificationLog]:
    """Write the rows (an event already recorded is skipped) and enqueue their delivery after commit.

    Returns the rows written by this call.
    """
    if not logs:
        return []
    plain = [log for log in logs if not log.event_key]
    created = NotificationLog.objects.bulk_create(plain) if plain else []
    keyed = _new_keyed([log for log in logs if log.event_key])
    if keyed:
        # ON CONFLICT DO NOTHING: a concurrent run recording the same event between the check above
        # and this insert is not an error; both then enqueue the one row, which ``deliver`` sends once.
        NotificationLog.objects.bulk_create(keyed, ignore_conflicts=True)
        keys = [log.event_key for log in keyed]
        rows = {}
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = NotificationLog.objects.filter(event_key__in=keys[start : start + KEY_CHUNK])
            rows.update({log.event_key: log for log in chunk})
        created += [rows[key] for key in keys if key in rows]
    if created:
        transaction.on_commit(partial(_enqueue, [log.pk for log in created]), robust=True)
    return created


def _key(event: str | None, *parts) -> str:
    return ":".join([event, *map(str, parts)])[:200] if event else ""


def logs_for(
    recipients: Iterable,
    subject: str,
    body: str,
    webhook_url: str | None,
    *,
    event: str | None = None,
    link: str = "",
) -> list[NotificationLog]:
    """One row per person and channel they have (email, WeCom application), plus the group robot.

    ``event`` names what is told (e.g. ``"sanction-confirmed:12"``): each row's ``event_key`` adds the
    recipient and channel, so recording the same event twice writes nothing. ``link`` is the path or
    URL the WeCom card opens (default: the portal's start page).
    """
    subject = subject[:200]
    recipients = [person for person in recipients if person is not None]
    wecom_on = any(getattr(person, "wecom_id", "") for person in recipients) and wecom_app_enabled()
    common = {"subject": subject, "body": body, "link": _absolute(link)}
    logs = []
    for person in recipients:
        if person.email:
            logs.append(
                NotificationLog(
                    channel=NotificationChannel.EMAIL,
                    target=person.email,
                    recipient=person,
                    event_key=_key(event, person.pk, NotificationChannel.EMAIL),
                    **common,
                )
            )
        if wecom_on and getattr(person, "wecom_id", None):
            logs.append(
                NotificationLog(
                    channel=NotificationChannel.WECOM_APP,
                    target=person.wecom_id,
                    recipient=person,
                    event_key=_key(event, person.pk, NotificationChannel.WECOM_APP),
                    **common,
                )
            )
    if webhook_url:
        logs.append(
            NotificationLog(
                channel=NotificationChannel.WECOM,
                target=webhook_url,
                recipient=recipients[0] if recipients else None,
                event_key=_key(event, "robot"),
                **common,
            )
        )
    return logs


def logs_for_accounts(users: Iterable, subject: str, body: str, *, event: str | None = None, link: str = "") -> list:
    """Email rows for portal accounts with no employee record (an HR admin's login, say): by the
    account's address, no recipient employee; ``event`` as in ``logs_for`` (keyed by the account)."""
    common = {"subject": subject[:200], "body": body, "link": _absolute(link)}
    return [
        NotificationLog(
            channel=NotificationChannel.EMAIL,
            target=user.email,
            recipient=None,
            event_key=_key(event, f"user-{user.pk}", NotificationChannel.EMAIL),
            **common,
        )
        for user in users
        if user.email
    ]


def _absolute(link: str) -> str:
    if link.startswith(("https://", "http://")):
        return link
    return f"{settings.PORTAL_BASE_URL}{link or '/'}" if settings.PORTAL_BASE_URL else link


def send_notification(
    recipient_employee,
    subject: str,
    body: str,
    webhook_url: str | None = None,
    *,
    event: str | None = None,
    link: str = "",
) -> list:
    """Notify one employee on each channel they have, and optionally a WeCom robot; returns the rows
    written (none when ``event`` was recorded before).

    Delivery happens after the caller's transaction commits, in a retried Celery task.
    """
    people = [recipient_employee] if recipient_employee else []
    return record(logs_for(people, subject, body, webhook_url, event=event, link=link))


def resend_pending(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Re-enqueue deliveries never attempted (e.g. the broker was down when they were recorded)."""
    stale = NotificationLog.objects.filter(
        status=NotificationStatus.PENDING, attempts=0, created_at__lt=timezone.now() - older_than
    )
    ids = list(stale.order_by("pk").values_list("pk", flat=True))
    if ids:
        transaction.on_commit(partial(_enqueue, ids), robust=True)
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


class Mailer:
    """One mail connection for a batch of emails, opened at the first and closed by ``close``.

    Django's ``send_mail`` opens and closes an SMTP connection per message unless it is handed one
    that is already open. A failed send closes the connection, so the next one starts afresh.
    """

    def __init__(self) -> None:
        self.connection = None

    def send(self, address: str, subject: str, body: str) -> None:
        if self.connection is None:
            connection = get_connection(fail_silently=False)
            connection.open()
            self.connection = connection
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], connection=self.connection)

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a connection the server already dropped
                logger.debug("closing the mail connection failed", exc_info=True)

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _send_email(address: str, subject: str, body: str, mailer: Mailer | None = None) -> None:
    try:
        if mailer is None:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
        else:
            mailer.send(address, subject, body)
    except Exception as exc:  # smtplib, socket and backend errors alike mean "try again later"
        if mailer is not None:
            mailer.close()
        raise DeliveryError(f"email: {exc}") from exc


def _send_wecom_app(log: NotificationLog) -> None:
    from . import wecom

    link = log.link or settings.PORTAL_BASE_URL or "/"
    wecom.send_textcard(log.target, log.subject, log.body, link)


def _attempt(log: NotificationLog, mailer: Mailer | None = None) -> None:
    if log.channel == NotificationChannel.WECOM:
        _post_wecom(log.target, log.subject, log.body)
    elif log.channel == NotificationChannel.WECOM_APP:
        _send_wecom_app(log)
    else:
        _send_email(log.target, log.subject, log.body, mailer)


def deliver(log_id: int, *, mailer: Mailer | None = None, first_attempt: bool = False) -> str:
    """Make one delivery attempt for a log row; idempotent once sent. Raises DeliveryError on failure.

    The row is locked while it is sent (PostgreSQL; the lock dies with a killed worker), so a second
    task for the same row (a redelivery, a resend) skips it instead of sending it again. A rejection
    (``DeliveryRejected``) marks the row failed at once, with the channel's reason. ``mailer``: the
    batch's mail connection (default: one connection for this message). ``first_attempt``: skip a row
    that is being retried (a batch run again leaves it to its single-row retry task).
    """
    failure: DeliveryError | None = None
    with transaction.atomic():
        log = NotificationLog.objects.select_for_update(skip_locked=True).filter(pk=log_id).first()
        if log is None:
            return "skipped"  # gone, or another worker is delivering it right now
        rows = NotificationLog.objects.filter(pk=log_id)
        open_statuses = (
            (NotificationStatus.PENDING,)
            if first_attempt
            else (NotificationStatus.PENDING, NotificationStatus.RETRYING)
        )
        if log.status not in open_statuses or not rows.filter(status__in=open_statuses).update(
            attempts=F("attempts") + 1
        ):
            return "skipped"  # sent or given up already
        try:
            _attempt(log, mailer)
        except DeliveryRejected as exc:
            rows.update(status=NotificationStatus.FAILED, last_error=str(exc)[:2000])
            logger.warning("notification %s rejected: %s", log_id, exc)
            return "failed"
        except DeliveryError as exc:
            rows.update(status=NotificationStatus.RETRYING, last_error=str(exc)[:2000])
            logger.warning("notification %s failed: %s", log_id, exc)
            failure = exc
        else:
            rows.update(status=NotificationStatus.SENT, sent_at=timezone.now())
    if failure is not None:
        raise failure  # after the commit: the attempt and its error are kept
    return "sent"


def mark_failed(log_id: int) -> None:
    """Give up on a delivery after its last retry (the error stays in last_error)."""
    NotificationLog.objects.filter(pk=log_id).exclude(status=NotificationStatus.SENT).update(
        status=NotificationStatus.FAILED
    )

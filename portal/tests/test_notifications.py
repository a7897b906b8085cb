"""Notifications: email and WeCom webhook delivery, logged, retried, never breaking the caller."""

from __future__ import annotations

import json
import smtplib
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.mail.backends import locmem

from groups import notices
from groups.models import Membership, RosterFinding
from groups.reconcile import reconcile_all
from portal import notifications
from portal.celery import app
from portal.models import NotificationLog
from portal.tasks import DELIVERY_MAX_RETRIES, backoff_seconds


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setattr(app.conf, "task_always_eager", True)
    monkeypatch.setattr(app.conf, "task_eager_propagates", False)


class Robot(BaseHTTPRequestHandler):
    """A WeCom group robot that fails ``fail_first`` times (HTTP 500), then answers errcode 0."""

    def do_POST(self):
        server = self.server
        length = int(self.headers["Content-Length"])
        server.received.append(json.loads(self.rfile.read(length)))
        if len(server.received) <= server.fail_first:
            self.send_response(500)
            self.end_headers()
            return
        body = json.dumps({"errcode": server.errcode, "errmsg": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Robot)
    server.received, server.fail_first, server.errcode = [], 1, 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}/cgi-bin/webhook/send?key=test"
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_failing_once_is_retried_and_logged(eager, org, robot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        logs = notifications.send_notification(org["east_rep"], "【群规】处分通知", "警告一次", webhook_url=robot.url)
    assert [log.channel for log in logs] == ["wecom"]  # 张三 has no email
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts, log.recipient) == ("sent", 2, org["east_rep"])
    assert "500" in log.last_error and log.sent_at is not None
    assert len(robot.received) == 2
    assert robot.received[1] == {"msgtype": "markdown", "markdown": {"content": "**【群规】处分通知**\n警告一次"}}


def test_email_goes_through_django_mail(eager, org, django_capture_on_commit_callbacks):
    org["east_rep"].email = "zhangsan@example.com"
    org["east_rep"].save()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.send_notification(org["east_rep"], "处分通知", "警告一次")
    assert [(m.subject, m.to) for m in mail.outbox] == [("处分通知", ["zhangsan@example.com"])]
    assert NotificationLog.objects.get().status == "sent"


def test_nothing_is_sent_before_commit(eager, org, robot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.send_notification(None, "s", "b", webhook_url=robot.url)
    assert robot.received == [] and len(callbacks) == 1
    assert NotificationLog.objects.get().status == "pending"


def test_a_dead_webhook_fails_after_the_last_retry_without_raising(
    eager, org, robot, django_capture_on_commit_callbacks
):
    robot.fail_first = 100
    with django_capture_on_commit_callbacks(execute=True):
        notifications.send_notification(None, "s", "b", webhook_url=robot.url)
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts) == ("failed", DELIVERY_MAX_RETRIES + 1)
    assert len(robot.received) == DELIVERY_MAX_RETRIES + 1


def test_wecom_error_code_counts_as_a_failure(eager, org, robot, django_capture_on_commit_callbacks):
    robot.fail_first, robot.errcode = 0, 93000  # invalid webhook key
    with django_capture_on_commit_callbacks(execute=True):
        notifications.send_notification(None, "s", "b", webhook_url=robot.url)
    log = NotificationLog.objects.get()
    assert log.status == "failed" and "93000" in log.last_error


def test_unreachable_webhook_and_bad_scheme(eager, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notifications.send_notification(None, "s", "b", webhook_url="http://127.0.0.1:1/x")
        notifications.send_notification(None, "s", "b", webhook_url="file:///etc/passwd")
    errors = list(NotificationLog.objects.order_by("pk").values_list("status", "last_error"))
    assert [status for status, _ in errors] == ["failed", "failed"]
    assert "http(s)" in errors[1][1]


def test_delivery_is_idempotent_once_sent(eager, org, robot):
    robot.fail_first = 0
    log = notifications.send_notification(None, "s", "b", webhook_url=robot.url)[0]
    assert notifications.deliver(log.pk) == "sent"
    assert notifications.deliver(log.pk) == "skipped"
    assert len(robot.received) == 1


def test_broker_down_leaves_the_row_pending_for_resend(org, monkeypatch, django_capture_on_commit_callbacks):
    from portal import tasks

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(tasks.deliver_notifications_task, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.send_notification(None, "s", "b", webhook_url="https://example.invalid/hook")
    assert NotificationLog.objects.get().status == "pending"
    NotificationLog.objects.update(created_at=NotificationLog.objects.get().created_at.replace(year=2000))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notifications.resend_pending() == 1
    assert len(callbacks) == 1


def test_backoff_grows_and_is_capped():
    assert [backoff_seconds(n) for n in range(3)] == [30, 60, 120]
    assert backoff_seconds(20) == 1800


def test_findings_digest_to_owner_and_admins(eager, org, robot, django_capture_on_commit_callbacks):
    org["sales_head"].email = "li@example.com"
    org["sales_head"].save()
    org["tech_dev"].email = "sun@example.com"
    org["tech_dev"].save()
    group = org["sales_group"]
    group.wecom_webhook_url = robot.url
    group.save()
    robot.fail_first = 0
    Membership.objects.create(group=group, nickname="华东区-赵六", employee=org["east_departed"])
    Membership.objects.create(group=group, nickname="路人甲")
    reconcile_all()
    RosterFinding.objects.filter(group=org["tech_group"]).delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.send_findings_digest() == 3  # two emails, one robot post
    assert sorted(m.to[0] for m in mail.outbox) == ["li@example.com", "sun@example.com"]
    body = mail.outbox[0].body
    assert "离职员工仍在群: 1" in body and "非本公司人员在群: 1" in body and "群未经审批备案: 1" in body
    assert "销售部工作群" in mail.outbox[0].subject
    assert len(robot.received) == 1


# --- batched delivery (issue #15) ----------------------------------------------------------------


class CountingBackend(locmem.EmailBackend):
    """Django's test outbox, counting connections opened; a message to ``bad@…`` fails (SMTP dropped)
    the first time it is sent."""

    opened: list[int] = []
    failed: set[str] = set()

    def open(self):
        CountingBackend.opened.append(id(self))
        return super().open()

    def send_messages(self, messages):
        for message in messages:
            address = message.to[0]
            if address.startswith("bad@") and address not in CountingBackend.failed:
                CountingBackend.failed.add(address)
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def counting_mail(settings, monkeypatch):
    settings.EMAIL_BACKEND = "portal.tests.test_notifications.CountingBackend"
    monkeypatch.setattr(CountingBackend, "opened", [])
    monkeypatch.setattr(CountingBackend, "failed", set())
    return CountingBackend


def _emails(count: int, *, bad: tuple[int, ...] = ()) -> list[NotificationLog]:
    return [
        NotificationLog(channel="email", target=f"{'bad' if i in bad else 'p'}@{i}.example.com", subject="s", body="b")
        for i in range(count)
    ]


@pytest.mark.parametrize(("rows", "batches"), [(1, [1]), (50, [50]), (120, [50, 50, 20])])
def test_rows_are_enqueued_in_batches_by_one_callback(
    rows, batches, db, monkeypatch, django_capture_on_commit_callbacks
):
    from portal import tasks

    sent = []
    monkeypatch.setattr(tasks.deliver_notifications_task, "delay", lambda ids: sent.append(ids))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = notifications.record(_emails(rows))
    assert len(callbacks) == 1 and sent == []  # one callback for the whole record(), run after commit
    callbacks[0]()
    assert [len(batch) for batch in sent] == batches
    assert [pk for batch in sent for pk in batch] == [log.pk for log in created]


def test_a_batch_is_sent_over_one_mail_connection(eager, db, counting_mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notifications.record(_emails(120))
    assert len(mail.outbox) == 120 and len({m.to[0] for m in mail.outbox}) == 120
    assert len(counting_mail.opened) == 3  # one connection per batch of 50, not per message
    assert set(NotificationLog.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_failing_row_is_retried_alone_and_its_batch_carries_on(
    eager, org, robot, counting_mail, monkeypatch, django_capture_on_commit_callbacks
):
    from portal import tasks

    handed_on = []
    apply_async = tasks.deliver_notification_task.apply_async

    def spy(args, **kwargs):
        handed_on.append((list(args), kwargs))
        return apply_async(args, **kwargs)

    monkeypatch.setattr(tasks.deliver_notification_task, "apply_async", spy)
    robot.fail_first = 1  # the robot row, first in the batch, fails once
    robot_row = NotificationLog(channel="wecom", target=robot.url, subject="s", body="b")
    with django_capture_on_commit_callbacks(execute=True):
        created = notifications.record([robot_row, *_emails(5, bad=(2,))])
    robot_id, bad_id = created[0].pk, created[3].pk
    assert created[3].target == "bad@2.example.com"
    assert [args for args, _ in handed_on] == [[robot_id], [bad_id]]  # each failed row alone
    assert all(kwargs == {"countdown": 30, "retries": 1} for _, kwargs in handed_on)
    rows = {log.pk: (log.status, log.attempts) for log in NotificationLog.objects.all()}
    assert rows.pop(robot_id) == ("sent", 2) and rows.pop(bad_id) == ("sent", 2)
    assert set(rows.values()) == {("sent", 1)}  # the others, once each
    assert len(robot.received) == 2 and len(mail.outbox) == 5
    # The batch opened two connections: the one dropped with the failure, then a new one for the rest.
    assert len(counting_mail.opened) == 2


def test_a_row_rejected_in_a_batch_is_failed_and_not_retried(
    eager, org, robot, monkeypatch, django_capture_on_commit_callbacks
):
    from portal import tasks

    monkeypatch.setattr(tasks.deliver_notification_task, "apply_async", pytest.fail)
    real = notifications._attempt

    def refuse_first(log, mailer=None):
        if log.target == "p@0.example.com":
            raise notifications.DeliveryRejected("no such user")
        real(log, mailer)

    monkeypatch.setattr(notifications, "_attempt", refuse_first)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.record(_emails(3))
    statuses = list(NotificationLog.objects.order_by("pk").values_list("status", "attempts", "last_error"))
    assert statuses == [("failed", 1, "no such user"), ("sent", 1, ""), ("sent", 1, "")]


class Killed(BaseException):
    """The worker dies (SIGKILL, out of memory) while it sends a row: nothing after it runs."""


def test_a_batch_killed_half_way_is_finished_by_its_redelivery_sending_nothing_twice(db, monkeypatch):
    from portal.tasks import deliver_notifications_task

    monkeypatch.setattr(notifications, "_enqueue", lambda ids: None)  # the batch runs below, twice
    ids = [log.pk for log in notifications.record(_emails(6))]
    real, tried = notifications._attempt, []

    def die_at_the_third(log, mailer=None):
        tried.append(log.pk)
        if len(tried) == 3:
            real(log, mailer)  # sent, but killed before the row is marked sent
            raise Killed
        real(log, mailer)

    monkeypatch.setattr(notifications, "_attempt", die_at_the_third)
    with pytest.raises(Killed):
        deliver_notifications_task.apply(args=[ids])
    rows = list(NotificationLog.objects.order_by("pk").values_list("status", "attempts"))
    assert rows == [("sent", 1)] * 2 + [("pending", 0)] * 4  # the dead row's attempt died with it
    assert len(mail.outbox) == 3

    # What is left is found by resend_pending too (rows never attempted), should the message be lost.
    assert notifications.resend_pending(older_than=timedelta(0)) == 4

    monkeypatch.setattr(notifications, "_attempt", real)
    assert deliver_notifications_task.apply(args=[ids]).get() == {"skipped": 2, "sent": 4}  # the redelivery
    assert deliver_notifications_task.apply(args=[ids]).get() == {"skipped": 6}  # and once more: nothing
    assert set(NotificationLog.objects.values_list("status", "attempts")) == {("sent", 1)}
    # Only the row whose sending was cut off between the send and the commit went out twice (as before
    # batching; WeCom's enable_duplicate_check drops such a repeat); every other row once.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [f"p@{i}.example.com" for i in range(6)] + ["p@2.example.com"]
    )


def test_a_batch_at_its_time_limit_sends_the_rest_as_a_new_batch(db, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from portal.tasks import deliver_notifications_task

    monkeypatch.setattr(notifications, "_enqueue", lambda ids: None)
    ids = [log.pk for log in notifications.record(_emails(5))]
    sent_on = []
    monkeypatch.setattr(notifications, "_enqueue", sent_on.append)
    real = notifications.deliver

    def slow(log_id, **kwargs):
        if log_id == ids[2] and not sent_on:
            raise SoftTimeLimitExceeded
        return real(log_id, **kwargs)

    monkeypatch.setattr(notifications, "deliver", slow)
    assert deliver_notifications_task.apply(args=[ids]).get() == {"sent": 2, "sent_on": 3}
    assert sent_on == [ids[2:]]
    assert deliver_notifications_task.apply(args=sent_on).get() == {"sent": 3}
    assert len(mail.outbox) == 5


def test_a_time_limit_inside_the_mail_backend_also_stops_the_batch(eager, db, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from portal.tasks import deliver_notifications_task

    monkeypatch.setattr(notifications, "_enqueue", lambda ids: None)
    ids = [log.pk for log in notifications.record(_emails(5))]
    sent_on = []
    monkeypatch.setattr(notifications, "_enqueue", sent_on.append)
    real, stopped = notifications.send_mail, []

    def slow(subject, body, sender, to, **kwargs):
        if to == ["p@2.example.com"] and not stopped:
            stopped.append(to)
            raise SoftTimeLimitExceeded  # _send_email makes it a DeliveryError
        return real(subject, body, sender, to, **kwargs)

    monkeypatch.setattr(notifications, "send_mail", slow)
    # The third row goes to its retry (which sends it here, eagerly), the last two on as a new batch.
    assert deliver_notifications_task.apply(args=[ids]).get() == {"sent": 2, "retrying": 1, "sent_on": 2}
    assert sent_on == [ids[3:]] and len(mail.outbox) == 3


def test_a_rerun_batch_leaves_a_row_being_retried_to_its_own_task(db, monkeypatch):
    from portal.tasks import deliver_notifications_task

    monkeypatch.setattr(notifications, "_enqueue", lambda ids: None)
    ids = [log.pk for log in notifications.record(_emails(3))]
    NotificationLog.objects.filter(pk=ids[1]).update(status="retrying", attempts=1, last_error="email: timed out")
    assert deliver_notifications_task.apply(args=[ids]).get() == {"sent": 2, "skipped": 1}
    assert NotificationLog.objects.get(pk=ids[1]).status == "retrying"  # its retry task sends it
    assert notifications.deliver(ids[1]) == "sent"
    assert len(mail.outbox) == 3


def test_broker_down_no_batch_is_sent_and_resend_pending_batches_them(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    from portal import outbox, tasks

    sent = []
    monkeypatch.setattr(tasks.deliver_notifications_task, "delay", lambda ids: sent.append(ids))
    monkeypatch.setattr(outbox, "broker_available", lambda: False)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.record(_emails(60))
    assert sent == [] and set(NotificationLog.objects.values_list("status", "attempts")) == {("pending", 0)}

    monkeypatch.setattr(outbox, "broker_available", lambda: True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notifications.resend_pending(older_than=timedelta(0)) == 60
    assert len(callbacks) == 1
    callbacks[0]()
    assert [len(batch) for batch in sent] == [50, 10]

"""Notifications: email and WeCom webhook delivery, logged, retried, never breaking the caller."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

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

    monkeypatch.setattr(tasks.deliver_notification_task, "delay", down)
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

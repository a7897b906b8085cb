"""WeCom application messages against a local HTTP server answering as the documented API does, and
notifications recorded and sent once per event."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.core.cache import cache

from portal import notifications, wecom
from portal.celery import app
from portal.models import NotificationLog
from portal.tests.wecom_server import AGENT_ID, calls


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setattr(app.conf, "task_always_eager", True)
    monkeypatch.setattr(app.conf, "task_eager_propagates", False)


@pytest.fixture
def zhangsan(org):
    person = org["east_rep"]
    person.wecom_id, person.email = "zhangsan", "zhangsan@example.com"
    person.save()
    return person


def _send(person, django_capture_on_commit_callbacks, event="test-event:1", **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return notifications.send_notification(person, "【群规】处分通知", "警告一次\n请查看", event=event, **kwargs)


def test_text_card_sent_and_token_cached(eager, zhangsan, wecom_api, django_capture_on_commit_callbacks):
    logs = _send(zhangsan, django_capture_on_commit_callbacks, link="/violations/mine/")
    assert sorted(log.channel for log in logs) == ["email", "wecom_app"]
    _send(zhangsan, django_capture_on_commit_callbacks, event="test-event:2")
    assert len(calls(wecom_api, "gettoken")) == 1  # cached for the second message
    assert len(calls(wecom_api, "message/send")) == 2
    _path, query, body = calls(wecom_api, "message/send")[0]
    assert query == {"access_token": "ACCESS_TOKEN_1"}
    assert body["touser"] == "zhangsan" and body["msgtype"] == "textcard" and body["agentid"] == int(AGENT_ID)
    assert body["textcard"] == {
        "title": "【群规】处分通知",
        "description": "警告一次\n请查看",
        "url": "https://qungui.example.com/violations/mine/",
        "btntxt": "详情",
    }
    assert body["enable_duplicate_check"] == 1
    assert NotificationLog.objects.filter(channel="wecom_app", status="sent").count() == 2
    assert [m.to for m in mail.outbox] == [["zhangsan@example.com"]] * 2


def test_token_not_cached_past_its_expiry_less_the_margin(eager, zhangsan, wecom_api, settings):
    wecom_api.expires_in = settings.WECOM_TOKEN_MARGIN_SECONDS + 60
    first = wecom_module_token()
    assert first == "ACCESS_TOKEN_1"
    key = f"wecom:token:{settings.WECOM_CORP_ID}:{settings.WECOM_AGENT_ID}"
    assert cache.get(key) == first
    wecom_api.expires_in = settings.WECOM_TOKEN_MARGIN_SECONDS  # nothing left after the margin: not cached
    cache.delete(key)
    assert wecom_module_token() == "ACCESS_TOKEN_2"
    assert cache.get(key) is None


def wecom_module_token() -> str:
    return wecom.access_token()


@pytest.mark.parametrize("errcode", [42001, 40014])
def test_expired_token_is_refreshed_and_the_message_sent_once_more(
    errcode, eager, zhangsan, wecom_api, django_capture_on_commit_callbacks
):
    wecom_module_token()  # a cached token that WeCom has since expired
    wecom_api.script = [{"errcode": errcode, "errmsg": "access_token expired"}]
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert (log.status, log.attempts, log.last_error) == ("sent", 1, "")
    assert len(calls(wecom_api, "gettoken")) == 2
    assert [q["access_token"] for _p, q, _b in calls(wecom_api, "message/send")] == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    assert len(wecom_api.delivered) == 1


def test_token_refused_again_after_refresh_is_retried_later(
    eager, zhangsan, wecom_api, django_capture_on_commit_callbacks
):
    wecom_api.script = [{"errcode": 42001, "errmsg": "access_token expired"}] * 2
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert (log.status, log.attempts) == ("sent", 2)  # the task's retry sent it
    assert "42001" in log.last_error
    assert len(wecom_api.delivered) == 1


@pytest.mark.parametrize("errcode", [45009, 45033])
def test_rate_limit_is_retried_with_backoff(
    errcode, eager, zhangsan, wecom_api, monkeypatch, django_capture_on_commit_callbacks
):
    from portal import tasks

    countdowns = []
    retry, apply_async = tasks.deliver_notification_task.retry, tasks.deliver_notification_task.apply_async

    def spy(real):
        def call(*args, **kwargs):
            countdowns.append(kwargs.get("countdown"))
            return real(*args, **kwargs)

        return call

    # The batch's failed row is handed on to the single-row task (30 s), whose retry waits 60 s.
    monkeypatch.setattr(tasks.deliver_notification_task, "apply_async", spy(apply_async))
    monkeypatch.setattr(tasks.deliver_notification_task, "retry", spy(retry))
    wecom_api.script = [{"errcode": errcode, "errmsg": "api freq out of limit"}] * 2
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert (log.status, log.attempts) == ("sent", 3)
    assert str(errcode) in log.last_error and "freq" in log.last_error
    assert countdowns == [30, 60]
    assert len(wecom_api.delivered) == 1


def test_unknown_user_is_a_failure_for_that_user_not_retried(eager, org, wecom_api, django_capture_on_commit_callbacks):
    person = org["tech_head"]
    person.wecom_id = "chenjishu-left"
    person.save()
    _send(person, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get()
    assert (log.channel, log.status, log.attempts) == ("wecom_app", "failed", 1)
    assert "81013" in log.last_error and "user & party & tag all invalid" in log.last_error
    assert len(calls(wecom_api, "message/send")) == 1


def test_invaliduser_in_a_successful_answer_is_a_failure(
    eager, zhangsan, wecom_api, django_capture_on_commit_callbacks
):
    wecom_api.script = [{"errcode": 0, "errmsg": "ok", "invaliduser": "zhangsan", "msgid": "m1"}]
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert (log.status, log.attempts) == ("failed", 1)
    assert "zhangsan" in log.last_error and "invalid" in log.last_error


def test_other_errcode_is_recorded_with_its_errmsg(eager, zhangsan, wecom_api, django_capture_on_commit_callbacks):
    wecom_api.script = [{"errcode": 60020, "errmsg": "not allow to access from your ip"}]
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert (log.status, log.attempts) == ("failed", 1)
    assert log.last_error == "WeCom message/send errcode 60020: not allow to access from your ip"


def test_wrong_secret_fails_with_gettoken_errmsg(
    eager, zhangsan, wecom_api, settings, django_capture_on_commit_callbacks
):
    settings.WECOM_APP_SECRET = "wrong"
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert log.status == "failed" and log.last_error == "WeCom gettoken errcode 40001: invalid credential"
    assert calls(wecom_api, "message/send") == []


def test_unreachable_api_is_retried(eager, zhangsan, settings, django_capture_on_commit_callbacks):
    settings.WECOM_CORP_ID, settings.WECOM_AGENT_ID, settings.WECOM_APP_SECRET = "ww1", "1", "s"
    settings.WECOM_API_BASE = "http://127.0.0.1:1/cgi-bin"
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert log.status == "failed" and log.attempts == 6 and "WeCom API" in log.last_error


def test_long_text_is_clipped_to_the_card_limits(settings):
    settings.WECOM_AGENT_ID = "7"
    card = wecom.textcard("u", "标" * 100, "<b>" + "内" * 400, "https://x")["textcard"]
    assert len(card["title"].encode()) <= wecom.TITLE_BYTES and card["title"].endswith("…")
    assert len(card["description"].encode()) <= wecom.DESCRIPTION_BYTES
    assert card["description"].startswith("&lt;b&gt;")


def test_without_a_corp_email_only_and_logged_once(org, settings, caplog, monkeypatch):
    settings.WECOM_CORP_ID = ""
    monkeypatch.setattr(notifications, "_wecom_off_logged", False)
    person = org["east_rep"]
    person.wecom_id, person.email = "zhangsan", "zhangsan@example.com"
    with caplog.at_level(logging.INFO, logger="portal.notifications"):
        first = notifications.logs_for([person], "s", "b", None, event="e:1")
        notifications.logs_for([person], "s", "b", None, event="e:2")
    assert [log.channel for log in first] == ["email"]
    assert [r.getMessage() for r in caplog.records].count(
        "WeCom application not configured (WECOM_CORP_ID/WECOM_AGENT_ID/WECOM_APP_SECRET): email only"
    ) == 1


# --- once per event --------------------------------------------------------------------------------


def test_same_event_twice_records_one_row_per_channel(eager, zhangsan, wecom_api, django_capture_on_commit_callbacks):
    assert len(_send(zhangsan, django_capture_on_commit_callbacks)) == 2
    assert _send(zhangsan, django_capture_on_commit_callbacks) == []
    keys = sorted(NotificationLog.objects.values_list("event_key", flat=True))
    assert keys == [f"test-event:1:{zhangsan.pk}:email", f"test-event:1:{zhangsan.pk}:wecom_app"]
    assert len(wecom_api.delivered) == 1 and len(mail.outbox) == 1


def test_a_concurrent_recording_of_the_same_event_is_not_an_error(zhangsan, wecom_api, monkeypatch):
    first = notifications.send_notification(zhangsan, "s", "b", event="race:1")
    monkeypatch.setattr(notifications, "_new_keyed", lambda logs: logs)  # as if checked before the other insert
    again = notifications.send_notification(zhangsan, "s", "b", event="race:1")
    assert NotificationLog.objects.count() == 2
    assert sorted(log.pk for log in again) == sorted(log.pk for log in first)


def test_a_retried_or_duplicated_task_sends_once(zhangsan, wecom_api):
    from portal.tasks import deliver_notification_task

    log = notifications.send_notification(zhangsan, "s", "b", event="dup:1")[1]
    assert log.channel == "wecom_app"
    assert deliver_notification_task.apply(args=[log.pk]).get() == "sent"
    assert deliver_notification_task.apply(args=[log.pk]).get() == "skipped"  # redelivered message
    assert len(wecom_api.delivered) == 1


def test_agent_id_that_is_not_a_number_fails_clearly(
    eager, zhangsan, wecom_api, settings, django_capture_on_commit_callbacks
):
    settings.WECOM_AGENT_ID = "qungui"
    _send(zhangsan, django_capture_on_commit_callbacks)
    log = NotificationLog.objects.get(channel="wecom_app")
    assert log.status == "failed" and "WECOM_AGENT_ID" in log.last_error
    assert calls(wecom_api, "message/send") == []

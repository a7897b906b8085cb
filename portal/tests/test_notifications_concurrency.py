"""Two delivery tasks for the same row at once (a redelivered message, a resend): one sends, the other
skips the row at once instead of sending it again or waiting for it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from portal import notifications

pytestmark = [
    # Row locks need PostgreSQL; SQLite serialises writers with one database lock instead.
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_a_row_being_sent_is_skipped_by_a_second_task(org, wecom_api, monkeypatch):
    person = org["east_rep"]
    person.wecom_id = "zhangsan"
    person.save()
    monkeypatch.setattr(notifications, "_enqueue", lambda ids: None)  # the two deliveries below are the tasks
    (log,) = notifications.send_notification(person, "【群规】处分通知", "警告一次", event="concurrent:1")
    sending, release, results = threading.Event(), threading.Event(), {}
    real, calls = notifications._attempt, []

    def slow_first(row, mailer=None):
        calls.append(row.pk)
        if len(calls) == 1:
            sending.set()
            release.wait(10)
        real(row, mailer)

    monkeypatch.setattr(notifications, "_attempt", slow_first)

    def run(name):
        try:
            results[name] = notifications.deliver(log.pk)
        finally:
            connection.close()

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert sending.wait(10)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    second.join(5)
    assert results.get("second") == "skipped"  # answered while the first still holds the row
    release.set()
    first.join(10)
    assert results["first"] == "sent"
    assert len(wecom_api.delivered) == 1 and calls == [log.pk]

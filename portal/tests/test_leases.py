"""Message leases (portal.leases): a worker renews the broker stamps of the messages it holds."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest
from django.conf import settings

from portal.leases import MessageLeases, held_tags, renew


def test_broker_settings_make_the_visibility_timeout_a_short_lease():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert options["visibility_timeout"] == settings.CELERY_MESSAGE_LEASE_SECONDS <= 45  # killed → back in < 1 min
    assert options["visibility_timeout"] >= settings.CELERY_MESSAGE_LEASE_RENEW * 5  # several renewals per lease
    assert options["unacked_restore_interval"] <= settings.CELERY_MESSAGE_LEASE_RENEW
    assert options["unacked_restore_throttle"] == 1
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    from kombu.transport.redis import Channel

    # kombu ≥ 5.7 reads these two (older versions swept for expired messages only every ~100 s)
    assert {"unacked_restore_interval", "unacked_restore_throttle"} <= set(Channel.from_transport_options)


def test_every_worker_runs_the_lease_step():
    from portal.celery import app

    assert MessageLeases in app.steps["consumer"]


def test_no_consumer_yet_holds_nothing():
    assert held_tags(SimpleNamespace()) == []
    assert renew(SimpleNamespace()) == 0


@pytest.mark.redis
def test_renew_restamps_the_messages_held_and_only_those():
    from kombu import Connection

    index = f"test-unacked-index-{uuid.uuid4().hex}"
    with Connection(os.environ["REDIS_URL"], transport_options={"unacked_index_key": index}) as conn:
        channel = conn.channel()
        consumer = SimpleNamespace(task_consumer=SimpleNamespace(channel=channel))
        with channel.conn_or_acquire() as client:
            try:
                client.zadd(index, {"held": 1.0, "other-workers": 1.0})  # delivered long ago
                channel.qos._delivered["held"] = object()
                channel.qos._delivered["acked-meanwhile"] = object()  # no longer in the index
                assert renew(consumer, now=5000.0) == 1
                assert client.zscore(index, "held") == 5000.0
                assert client.zscore(index, "other-workers") == 1.0  # a dead worker's message stays expired
                assert client.zscore(index, "acked-meanwhile") is None  # not brought back
            finally:
                client.delete(index)
                channel.qos._delivered.clear()

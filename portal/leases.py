"""Leases on the Redis broker's unacknowledged messages, so that a killed worker's tasks come back soon.

With ``acks_late`` the Redis transport keeps every delivered message in its ``unacked`` hash and
stamps the delivery time in the ``unacked_index`` sorted set; any worker's periodic sweep puts a
message whose stamp is older than ``visibility_timeout`` back on its queue. Kombu never refreshes
the stamp, which leaves two bad choices: a visibility timeout longer than the longest task (the
issue: a worker killed outright — no warm shutdown to restore its messages — lost its run for
40 minutes), or a short one that hands every long task to a second worker while the first is
still running (celery #5935, #6229).

Here each worker renews the stamps of the messages it holds (running, prefetched, or waiting for a
retry's countdown) every ``CELERY_MESSAGE_LEASE_RENEW`` seconds, from a thread of the worker's main
process — not the event loop, which a ``solo`` pool blocks while a task runs. The visibility
timeout is then a lease (``CELERY_MESSAGE_LEASE_SECONDS``): a live worker's tasks of any length keep
theirs; a dead worker stops renewing, and within a lease plus one sweep
(``unacked_restore_interval``) another worker takes the message up again. Should a live worker fail
to renew for a whole lease (Redis unreachable that long), its task may be delivered twice: tasks are
idempotent and the job locks (portal.locks) keep two runs of one job from overlapping.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import bootsteps
from django.conf import settings

logger = logging.getLogger(__name__)


def held_tags(consumer) -> list[str]:
    """Delivery tags of the messages this worker holds unacknowledged on its task channel."""
    channel = getattr(getattr(consumer, "task_consumer", None), "channel", None)
    delivered = getattr(getattr(channel, "qos", None), "_delivered", None)
    for _attempt in range(3):
        try:
            return list(delivered or ())
        except RuntimeError:  # changed size while being copied (acked meanwhile): copy again
            continue
    return []


def renew(consumer, *, now: float | None = None) -> int:
    """Stamp the held messages as delivered ``now``; returns how many leases were renewed."""
    tags = held_tags(consumer)
    if not tags:
        return 0
    channel = consumer.task_consumer.channel
    stamp = time.time() if now is None else now
    with channel.conn_or_acquire() as client:
        # XX: only messages still unacknowledged (one acked meanwhile must not come back).
        return int(client.zadd(channel.qos.unacked_index_key, dict.fromkeys(tags, stamp), xx=True, ch=True))


class MessageLeases(bootsteps.StartStopStep):
    """Consumer bootstep: a daemon thread renewing this worker's message leases."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, c):
        if getattr(c.connection.transport, "driver_type", "") != "redis":
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(c,), name="message-leases", daemon=True)
        self._thread.start()

    def _run(self, c) -> None:
        every = settings.CELERY_MESSAGE_LEASE_RENEW
        while not self._stop.wait(every):
            try:
                renew(c)
            except Exception as exc:  # Redis away: the next beat tries again; the lease is several beats long
                logger.warning("could not renew message leases: %s", exc)

    def stop(self, c):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    shutdown = stop

"""Locks for periodic jobs, so that two runs of one job never overlap.

With Redis (settings.REDIS_URL) the lock is ``SET key token NX PX ttl``; it is released by a Lua
compare-and-delete, so only its owner can release it, and it expires by itself if the holder is
killed. Without Redis (the embedded default) a ``portal.JobLock`` row plays the same role: the
primary key makes one holder, ``expires_at`` lets an abandoned lock be taken over.
The expiry must outlast the job: pass a ``ttl`` longer than the task's hard time limit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

_RELEASE_SCRIPT = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


class LockBackend(Protocol):
    def acquire(self, name: str, token: str, ttl: float) -> bool: ...

    def release(self, name: str, token: str) -> bool: ...


class RedisLockBackend:
    """SET NX PX with a random token; compare-and-delete on release."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)

    @staticmethod
    def key(name: str) -> str:
        return f"qungui:lock:{name}"

    def acquire(self, name: str, token: str, ttl: float) -> bool:
        return bool(self.client.set(self.key(name), token, nx=True, px=int(ttl * 1000)))

    def release(self, name: str, token: str) -> bool:
        return bool(self.client.eval(_RELEASE_SCRIPT, 1, self.key(name), token))


class DatabaseLockBackend:
    """A JobLock row per lock name; an expired row is deleted and taken over."""

    def acquire(self, name: str, token: str, ttl: float) -> bool:
        from .models import JobLock

        now = timezone.now()
        try:
            with transaction.atomic():
                JobLock.objects.filter(name=name, expires_at__lte=now).delete()
                JobLock.objects.create(name=name, token=token, acquired_at=now, expires_at=now + timedelta(seconds=ttl))
        except IntegrityError:
            return False
        return True

    def release(self, name: str, token: str) -> bool:
        from .models import JobLock

        deleted, _ = JobLock.objects.filter(name=name, token=token).delete()
        return bool(deleted)


def default_backend() -> LockBackend:
    redis_url = getattr(settings, "REDIS_URL", "")
    return RedisLockBackend(redis_url) if redis_url else DatabaseLockBackend()


@contextmanager
def job_lock(name: str, *, ttl: float, backend: LockBackend | None = None) -> Iterator[bool]:
    """Yield True if this caller holds the lock ``name`` for up to ``ttl`` seconds, else False.

    ``with job_lock("reconcile", ttl=3600) as held: if not held: return`` — the lock is released on
    exit only by its owner (a token check), never someone else's lock taken over after expiry.
    """
    backend = backend or default_backend()
    token = uuid.uuid4().hex
    held = backend.acquire(name, token, ttl)
    if not held:
        logger.info("job lock %s is held elsewhere: skipping", name)
    try:
        yield held
    finally:
        if held and not backend.release(name, token):
            logger.warning("job lock %s expired before its job finished (ttl %ss too short?)", name, ttl)

"""The default cache: Redis when configured, degrading to this process's memory while Redis is down.

DRF's throttles (and anything else on ``django.core.cache.cache``) read and write the cache on every
API call; with plain ``RedisCache`` a stopped Redis turned every call into a 500. ``FallbackRedisCache``
answers from a per-process ``LocMemCache`` instead, and keeps doing so for ``FALLBACK_SECONDS``
before it tries Redis again, so an outage costs one short connect timeout per process and interval,
not one per request.

Throttling therefore degrades rather than fails: neither closed (the API would be down, the fault
this fixes) nor open (no brute-force limit on the token endpoint while Redis is down) — each process
counts on its own, so a client gets at most (number of web processes) × the configured rate until
Redis is back.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
FALLBACK_SECONDS = 10
DEFAULT_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}
_METHODS = ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many", "clear")


class FallbackRedisCache(RedisCache):
    """``RedisCache`` that serves from local memory while Redis cannot be reached (see module doc)."""

    def __init__(self, server, params):
        params = {**params, "OPTIONS": {**DEFAULT_TIMEOUTS, **params.get("OPTIONS", {})}}
        self.fallback_seconds = float(params["OPTIONS"].pop("FALLBACK_SECONDS", FALLBACK_SECONDS))
        super().__init__(server, params)
        local = {k: v for k, v in params.items() if k not in ("LOCATION", "OPTIONS", "BACKEND")}
        self.local = LocMemCache(f"fallback:{server}", local)
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def redis_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            was_up = not self.redis_down
            self._down_until = time.monotonic() + self.fallback_seconds
        if was_up:
            logger.warning(
                "cache: Redis unreachable (%s); using this process's memory for %ss", exc, self.fallback_seconds
            )


def _with_fallback(name: str):
    redis_method = getattr(RedisCache, name)

    def method(self, *args, **kwargs):
        if not self.redis_down:
            try:
                return redis_method(self, *args, **kwargs)
            except REDIS_DOWN as exc:
                self._went_down(exc)
        return getattr(self.local, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = redis_method.__doc__
    return method


for _name in _METHODS:
    setattr(FallbackRedisCache, _name, _with_fallback(_name))

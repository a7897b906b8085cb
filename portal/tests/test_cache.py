"""The default cache (portal.cache.FallbackRedisCache) survives Redis going away, and comes back to it."""

from __future__ import annotations

import os
import uuid

import pytest

from portal.cache import FallbackRedisCache
from portal.settings import cache_config

DEAD = "redis://127.0.0.1:1/0"


def test_settings_use_the_fallback_cache_with_redis():
    assert cache_config("redis://h:6379/0")["default"]["BACKEND"] == "portal.cache.FallbackRedisCache"
    assert cache_config("")["default"]["BACKEND"].endswith("LocMemCache")


def test_a_dead_redis_is_answered_from_local_memory_then_retried():
    cache = FallbackRedisCache(DEAD, {"OPTIONS": {"FALLBACK_SECONDS": 60}})
    assert cache.get("k") is None  # no exception
    assert cache.redis_down
    cache.set("k", 1)
    assert cache.get("k") == 1 and cache.incr("k") == 2
    assert cache.add("k", 5) is False and cache.get_many(["k"]) == {"k": 2}
    cache.delete("k")
    assert not cache.has_key("k")
    cache._down_until = 0.0  # the fallback period is over: Redis is tried again (still down here)
    assert cache.get("k") is None and cache.redis_down


@pytest.mark.redis
def test_a_live_redis_is_used():
    url = os.environ["REDIS_URL"]
    key = f"test-{uuid.uuid4().hex}"
    writer, reader = FallbackRedisCache(url, {}), FallbackRedisCache(url, {})
    try:
        writer.set(key, "shared", 30)
        assert reader.get(key) == "shared"  # through Redis, not one process's memory
        assert not writer.redis_down
    finally:
        writer.delete(key)

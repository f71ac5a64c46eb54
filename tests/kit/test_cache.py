"""L1/L2 cache behaviour without a server: TTL, LRU, fall-through, single flight."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from services.kit.cache import (
    AI_SCHEDULE,
    LOCATION,
    PATTERNS,
    SESSION,
    STATIC,
    CachePattern,
    CacheTtls,
    L1Cache,
    Lifetime,
    TieredCache,
)
from services.kit.metrics import ServiceMetrics


class FakeRedis:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.ttls: dict[str, int] = {}
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("connection refused")

    async def get(self, key: str) -> bytes | None:
        self._check()
        return self.data.get(key)

    async def set(self, key: str, value: bytes, ex: int) -> None:
        self._check()
        self.data[key], self.ttls[key] = value, ex

    async def delete(self, key: str) -> None:
        self._check()
        self.data.pop(key, None)


PROD_TTLS = CacheTtls(l2_s=3600, ai_result_s=7200)  # SPEC.md prod v2: L2 60 min, AI 2 h


def make(redis: Any, **kw: Any) -> TieredCache:
    return TieredCache(
        redis,
        L1Cache(kw.pop("size", 10), kw.pop("ttl", 300)),
        ServiceMetrics("t"),
        ttls=kw.pop("ttls", PROD_TTLS),
        **kw,
    )


def test_key_patterns_follow_spec() -> None:
    # SPEC.md › cache pattern table
    assert SESSION.key(user_id="u1") == "session:u1"
    assert LOCATION.key(lat=37.5, lng=127.0, radius=500) == "location:37.5:127.0:500"
    assert AI_SCHEDULE.key(trip_id="t", hash="h") == "ai:schedule:t:h"
    assert STATIC.key(resource="r", version="v1") == "static:r:v1"
    assert not SESSION.l1  # sessions must not survive a logout in another replica's L1


def test_lifetimes_come_from_the_profile() -> None:
    # SPEC.md conflict 3, prod v2: L2 60 min, AI results 2 h; the session keeps SPEC's 30 min.
    assert PROD_TTLS.of(LOCATION) == PROD_TTLS.of(STATIC) == 3600
    assert PROD_TTLS.of(AI_SCHEDULE) == 7200
    assert PROD_TTLS.of(SESSION) == 1800
    dev = CacheTtls(l2_s=1800, ai_result_s=7200)
    assert dev.of(SESSION) == dev.of(LOCATION) == dev.of(STATIC) == 1800


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
async def test_every_write_lives_as_long_as_the_settings_say(pattern: CachePattern) -> None:
    # Odd figures no pattern could hold by accident: a write that ignores the settings fails.
    ttls = CacheTtls(l2_s=1234, ai_result_s=5678)
    redis = FakeRedis()
    cache = make(redis, ttls=ttls)
    await cache.set(pattern, "written", b"v")
    await cache.get_or_load(pattern, "loaded", lambda: asyncio.sleep(0, b"v"))
    expected = 5678 if pattern.lifetime is Lifetime.AI_RESULT else 1234
    if pattern.max_ttl_s is not None:
        expected = min(expected, pattern.max_ttl_s)
    assert redis.ttls == {"written": expected, "loaded": expected}


def test_l1_evicts_least_recently_used() -> None:
    l1 = L1Cache(2, 300)
    l1.set("a", b"1", 60)
    l1.set("b", b"2", 60)
    assert l1.get("a") == b"1"  # a is now most recent
    l1.set("c", b"3", 60)
    assert l1.get("b") is None and l1.get("a") == b"1" and l1.get("c") == b"3"


def test_l1_entry_expires_at_the_shorter_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("services.kit.cache.time.monotonic", lambda: now[0])
    l1 = L1Cache(10, ttl_s=300)
    l1.set("k", b"v", ttl_s=60)
    now[0] += 59
    assert l1.get("k") == b"v"
    now[0] += 2
    assert l1.get("k") is None


async def test_get_or_load_fills_both_layers_and_counts() -> None:
    redis = FakeRedis()
    cache = make(redis)
    loads = 0

    async def load() -> bytes:
        nonlocal loads
        loads += 1
        return b'{"x":1}'

    key = LOCATION.key(lat=1, lng=2, radius=3)
    assert await cache.get_or_load(LOCATION, key, load) == b'{"x":1}'
    assert redis.ttls[key] == PROD_TTLS.of(LOCATION)
    assert await cache.get_or_load(LOCATION, key, load) == b'{"x":1}'
    assert loads == 1 and cache.hits == 1 and cache.misses == 1
    cache.l1.clear()
    assert await cache.get(LOCATION, key) == b'{"x":1}'  # from L2, refills L1
    assert cache.hit_ratio == pytest.approx(2 / 3)


async def test_redis_down_falls_through_and_backs_off() -> None:
    redis = FakeRedis()
    redis.down = True
    cache = make(redis, retry_after_s=60)
    result = await cache.get_or_load(LOCATION, "k", lambda: asyncio.sleep(0, b"v"))
    assert result == b"v"
    calls = redis.calls
    assert not cache.l2_available
    await cache.get(STATIC, "other")  # skipped: L2 is marked down
    assert redis.calls == calls


async def test_concurrent_misses_load_once() -> None:
    cache = make(FakeRedis())
    loads = 0

    async def slow() -> bytes:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)
        return b"v"

    results = await asyncio.gather(*(cache.get_or_load(STATIC, "k", slow) for _ in range(5)))
    assert results == [b"v"] * 5 and loads == 1


async def test_a_failing_load_reaches_every_waiter() -> None:
    cache = make(FakeRedis())

    async def boom() -> bytes:
        await asyncio.sleep(0.01)
        raise ValueError("source down")

    results = await asyncio.gather(
        *(cache.get_or_load(STATIC, "k", boom) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)

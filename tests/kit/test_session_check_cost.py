"""What the session check adds per request, printed (not asserted: timings on a shared machine
are noise). Run: pytest -s tests/kit/test_session_check_cost.py

Per request a service does one in-process cache lookup; while the revocation feed is up that is
all (an entry is read again after `TRUST_S`), else it also does one Redis GET once per user per
second (cache_s). The figures: the lookup of an entry the feed vouches for, and a lookup that
misses and reads Redis.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from services.kit.cache import CacheTtls, L1Cache, TieredCache
from services.kit.metrics import ServiceMetrics
from services.kit.sessions import SessionVersions

pytestmark = pytest.mark.integration
N_HIT = 20_000
N_MISS = 2_000


async def test_print_the_cost_of_the_session_check(clean_redis: str) -> None:
    redis = aioredis.Redis.from_url(clean_redis)
    try:
        cache = TieredCache(
            redis,
            L1Cache(10, 60),
            ServiceMetrics("session-cost"),
            ttls=CacheTtls(l2_s=60, ai_result_s=60),
        )
        # The entry is past its poll interval below: every hit is one the feed vouches for. (The
        # loop never yields, so the feed's pings wait: the interval must outlast the loop.)
        hits = SessionVersions(cache, access_ttl_s=900, cache_s=0.5)
        misses = SessionVersions(cache, access_ttl_s=900, cache_s=1e-9)  # every call reads Redis
        async with hits.listening():
            assert hits.feed is not None
            await asyncio.wait_for(hits.feed.subscribed.wait(), 5)
            await hits.publish("user-1", 1)
            await asyncio.sleep(0.6)
            reads = 0
            read = hits._read

            async def counted(user_id: str) -> int:
                nonlocal reads
                reads += 1
                return await read(user_id)

            hits._read = counted  # type: ignore[method-assign]
            began = time.perf_counter()
            for _ in range(N_HIT):
                assert await hits.is_current("user-1", 1)
            hit_us = (time.perf_counter() - began) / N_HIT * 1e6
            assert reads == 0

        began = time.perf_counter()
        for _ in range(N_MISS):
            assert await misses.is_current("user-1", 1)
        miss_us = (time.perf_counter() - began) / N_MISS * 1e6

        began = time.perf_counter()
        for _ in range(N_MISS):
            await redis.get("session:user-1")
        get_us = (time.perf_counter() - began) / N_MISS * 1e6
    finally:
        await redis.aclose()
    print(
        f"\nsession check per request: cached {hit_us:.2f} µs (n={N_HIT}); "
        f"cache miss + Redis GET {miss_us:.1f} µs (n={N_MISS}); "
        f"bare Redis GET baseline {get_us:.1f} µs (n={N_MISS})"
    )
    assert hit_us > 0 and miss_us > 0

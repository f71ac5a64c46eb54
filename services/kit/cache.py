"""Two-level cache-aside: L1 in-process (TTL + LRU), L2 Redis; values are JSON bytes.

Key patterns are SPEC.md's (› Data, cache, messaging); their L2 lifetimes come from the profile
(`CacheTtls`, built from the settings), so every write follows it. Values stay serialised in both
layers so a hot route can return the cached bytes as they are (no re-encoding per request).
When Redis fails, L2 is skipped for `retry_after_s` and reads fall through to the source: a
Redis outage costs latency, not errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from cachetools import TLRUCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.kit.metrics import ServiceMetrics

log = logging.getLogger(__name__)


class Lifetime(StrEnum):
    """Which of the profile's TTLs an entry lives for."""

    L2 = "l2"  # SPEC.md L2 TTL: 30 min (v1) / 60 min (v2)
    AI_RESULT = "ai_result"  # SPEC.md AI results: 1 h (v1) / 2 h (v2)


@dataclass(frozen=True)
class CachePattern:
    """A family of keys and its lifetime; `l1=False` keeps security-relevant keys out of L1.

    `max_ttl_s` is a ceiling below the profile's TTL, for a pattern that has a reason to expire
    sooner (given where the pattern is declared).
    """

    name: str
    template: str
    lifetime: Lifetime = Lifetime.L2
    max_ttl_s: int | None = None
    l1: bool = True

    def key(self, **parts: object) -> str:
        return self.template.format(**parts)


@dataclass(frozen=True)
class CacheTtls:
    """The profile's L2 lifetimes in seconds (services.kit.settings picks them)."""

    l2_s: int
    ai_result_s: int

    def of(self, pattern: CachePattern) -> int:
        """How long an entry of `pattern` lives in Redis."""
        ttl = self.ai_result_s if pattern.lifetime is Lifetime.AI_RESULT else self.l2_s
        return min(ttl, pattern.max_ttl_s) if pattern.max_ttl_s is not None else ttl


# SPEC.md › cache pattern table. Its own figures for location (4 h) and static content (24 h) are
# longer than the L2 TTL; the profile's L2 TTL governs them, so one setting bounds what Redis
# holds. Only the session keeps a shorter figure of its own.
SESSION = CachePattern(
    "session",
    "session:{user_id}",
    # SPEC.md: 30 min. A logout or role change that could not delete the key (Redis down) is
    # noticed within 30 min, whatever the profile's L2 TTL.
    max_ttl_s=30 * 60,
    l1=False,
)
LOCATION = CachePattern("location", "location:{lat}:{lng}:{radius}")
AI_SCHEDULE = CachePattern("ai_schedule", "ai:schedule:{trip_id}:{hash}", Lifetime.AI_RESULT)
STATIC = CachePattern("static", "static:{resource}:{version}")
PATTERNS = (SESSION, LOCATION, AI_SCHEDULE, STATIC)

Loader = Callable[[], Awaitable[bytes | None]]


class L1Cache:
    """In-process LRU with a per-entry expiry (the shorter of L1's TTL and the pattern's)."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._data: TLRUCache[str, tuple[bytes, float]] = TLRUCache(
            maxsize=max_entries, ttu=lambda _k, v, now: now + v[1], timer=time.monotonic
        )

    def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        return entry[0] if entry else None

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._data[key] = (value, min(ttl_s, self.ttl_s))

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class TieredCache:
    def __init__(
        self,
        redis: Redis | None,
        l1: L1Cache,
        metrics: ServiceMetrics,
        *,
        ttls: CacheTtls,
        retry_after_s: float = 2.0,
    ) -> None:
        self.redis = redis
        self.l1 = l1
        self.metrics = metrics
        self.ttls = ttls
        self.retry_after_s = retry_after_s
        self._l2_down_until = 0.0
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @property
    def l2_available(self) -> bool:
        return self.redis is not None and time.monotonic() >= self._l2_down_until

    def report_l2_failure(self, op: str, exc: Exception) -> None:
        if time.monotonic() >= self._l2_down_until:
            log.warning(
                "redis %s failed, serving without L2 for %.1fs: %s", op, self.retry_after_s, exc
            )
        self._l2_down_until = time.monotonic() + self.retry_after_s
        self.metrics.cache_errors.labels(op).inc()

    async def get(self, pattern: CachePattern, key: str) -> bytes | None:
        if pattern.l1:
            value = self.l1.get(key)
            if value is not None:
                self._hit("l1", pattern)
                return value
        if self.l2_available:
            assert self.redis is not None
            try:
                raw = await self.redis.get(key)
            except (RedisError, OSError, TimeoutError) as exc:
                self.report_l2_failure("get", exc)
            else:
                if raw is not None:
                    value = raw if isinstance(raw, bytes) else str(raw).encode()
                    self._hit("l2", pattern)
                    if pattern.l1:
                        self.l1.set(key, value, self.ttls.of(pattern))
                    return value
        self.misses += 1
        self.metrics.cache_miss(pattern.name)
        return None

    async def set(self, pattern: CachePattern, key: str, value: bytes) -> None:
        ttl_s = self.ttls.of(pattern)
        if pattern.l1:
            self.l1.set(key, value, ttl_s)
        if self.l2_available:
            assert self.redis is not None
            try:
                await self.redis.set(key, value, ex=ttl_s)
            except (RedisError, OSError, TimeoutError) as exc:
                self.report_l2_failure("set", exc)

    async def delete(self, key: str) -> None:
        self.l1.delete(key)
        if self.l2_available:
            assert self.redis is not None
            try:
                await self.redis.delete(key)
            except (RedisError, OSError, TimeoutError) as exc:
                self.report_l2_failure("delete", exc)

    async def get_or_load(self, pattern: CachePattern, key: str, load: Loader) -> bytes | None:
        """Cache-aside: the cached bytes, else `load()` once per key at a time, then cache it."""
        value = await self.get(pattern, key)
        if value is not None:
            return value
        pending = self._inflight.get(key)
        if pending is not None:  # another request is already loading this key: share its result
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
            if value is not None:
                await self.set(pattern, key, value)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._inflight[key]

    def _hit(self, layer: str, pattern: CachePattern) -> None:
        self.hits += 1
        self.metrics.cache_hit(layer, pattern.name)

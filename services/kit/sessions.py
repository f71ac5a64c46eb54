"""Session versions shared in Redis: how logout, a role change or a deletion reach every service.

A token carries the user's session version (`sv`) from when it was issued. Ending sessions bumps
the version in user-service's PostgreSQL and then publishes it here, as `session:{userId}`
(SPEC.md's key), with a lifetime of at least the access token's, so every token issued before it
has expired by the time the key does. Every service's auth check reads the key (one GET) and
keeps the answer in-process for at most `cache_s` (1 s), so revocation is seen everywhere within
a second. No key means nothing was revoked lately: any unexpired token's version is current.

Writes only raise the stored version (a Lua compare-and-set), so two revocations racing can
never leave the older one in place. A deleted user gets `DELETED`, above any real version.

When Redis fails the check fails open (the kit's Redis rule: an outage costs latency, not
errors), keeping the last version this process saw; publishing fails loudly, so the caller can
answer 503 and the user retry rather than believe a revocation that other services never saw.
"""

from __future__ import annotations

import logging
import time

from cachetools import TTLCache
from redis.exceptions import RedisError

from services.kit.cache import SESSION, TieredCache

log = logging.getLogger(__name__)

DELETED = 2**62  # the version of a deleted user: no token was issued with it or above it
CACHE_S = 1.0  # how stale a service's view of a revocation may be
MIN_TTL_S = 30 * 60  # SPEC.md: session:{userId} 30 min

# Raise the stored version only; keep (and extend) a higher one.
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1])) or -1
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return wanted
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return current
"""


class SessionPublishError(RuntimeError):
    """Redis did not take a revocation: other services would not see it."""


class SessionVersions:
    """The current session version per user, read through a short in-process cache."""

    def __init__(
        self,
        cache: TieredCache,
        *,
        access_ttl_s: int,
        cache_s: float = CACHE_S,
        max_entries: int = 100_000,
    ) -> None:
        self.cache = cache
        self.cache_s = cache_s
        # Longer than any access token lives, so a token older than the revocation cannot
        # outlive the key that refuses it.
        self.ttl_s = max(MIN_TTL_S, access_ttl_s + 60)
        self._seen: TTLCache[str, int] = TTLCache(
            maxsize=max_entries, ttl=cache_s, timer=time.monotonic
        )
        self._last: dict[str, int] = {}  # what Redis said last, for a Redis outage

    async def is_current(self, user_id: str, session_version: int) -> bool:
        """Whether a token issued with `session_version` has not been revoked since."""
        return session_version >= await self.current(user_id)

    async def current(self, user_id: str) -> int:
        """The lowest version still valid (0 when nothing was revoked lately)."""
        seen = self._seen.get(user_id)
        if seen is not None:
            return seen
        version = await self._read(user_id)
        self._seen[user_id] = version
        return version

    async def _read(self, user_id: str) -> int:
        redis = self.cache.redis
        if redis is None or not self.cache.l2_available:
            return self._last.get(user_id, 0)
        try:
            raw = await redis.get(SESSION.key(user_id=user_id))
        except (RedisError, OSError, TimeoutError) as exc:
            self.cache.report_l2_failure("session", exc)
            return self._last.get(user_id, 0)
        version = _parse(raw)
        if version:
            self._last[user_id] = version
        else:
            self._last.pop(user_id, None)
        return version

    async def publish(self, user_id: str, version: int) -> None:
        """Make every token of `user_id` below `version` invalid everywhere (within `cache_s`)."""
        redis = self.cache.redis
        if redis is None:
            raise SessionPublishError("no Redis to publish the session version to")
        try:
            await redis.eval(_RAISE, 1, SESSION.key(user_id=user_id), version, self.ttl_s)
        except (RedisError, OSError, TimeoutError) as exc:
            self.cache.report_l2_failure("session", exc)
            raise SessionPublishError(f"Redis did not take the revocation: {exc}") from exc
        self._seen[user_id] = max(version, self._seen.get(user_id, 0))
        self._last[user_id] = max(version, self._last.get(user_id, 0))


def _parse(raw: object) -> int:
    """The stored version; a value of another shape (an older release's cache entry) is none."""
    if raw is None:
        return 0
    try:
        return int(raw if isinstance(raw, bytes | str) else str(raw))
    except ValueError:
        return 0

"""Session versions shared in Redis: how logout, a role change or a deletion reach every service.

A token carries the user's session version (`sv`) from when it was issued. Ending sessions bumps
the version in user-service's PostgreSQL and then publishes it here, as `session:{userId}`
(SPEC.md's key), with a lifetime of at least the access token's, so every token issued before it
has expired by the time the key does. No key means nothing was revoked lately: any unexpired
token's version is current.

Every service's auth check reads the key (one GET) and keeps the answer in-process. The script
that raises the version also pushes it to every service process (`services.kit.session_feed`),
which applies it at once; while that feed vouches for an entry, the entry is kept up to
`TRUST_S` and the check costs no Redis call. Without the feed (lost, or not started) an entry is
read again after `cache_s` (1 s), so revocation is seen everywhere within a second either way.

Writes only raise the stored version (a Lua compare-and-set), so two revocations racing can
never leave the older one in place. A deleted user gets `DELETED`, above any real version.

When Redis fails the check fails open (the kit's Redis rule: an outage costs latency, not
errors), keeping the last version this process saw; publishing fails loudly, so the caller can
answer 503 and the user retry rather than believe a revocation that other services never saw.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from cachetools import TTLCache
from redis.exceptions import RedisError

from services.kit.cache import SESSION, TieredCache
from services.kit.session_feed import REVOCATIONS_CHANNEL, RevocationFeed, revocation_message

log = logging.getLogger(__name__)

DELETED = 2**62  # the version of a deleted user: no token was issued with it or above it
CACHE_S = 1.0  # how stale a service's view of a revocation may be
# How long an entry the feed vouches for is kept before it is read again anyway: a bound on any
# message the feed could miss while its connection looked healthy.
TRUST_S = 60.0
MIN_TTL_S = 30 * 60  # SPEC.md: session:{userId} 30 min

# Raise the stored version only; keep (and extend) a higher one. A raise is pushed to every
# service process in the same script, so no reader can see the new version before the push.
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1])) or -1
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return wanted
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return current
"""


class SessionPublishError(RuntimeError):
    """Redis did not take a revocation: other services would not see it."""


class SessionVersions:
    """The current session version per user, read through an in-process cache."""

    def __init__(
        self,
        cache: TieredCache,
        *,
        access_ttl_s: int,
        cache_s: float = CACHE_S,
        trust_s: float = TRUST_S,
        max_entries: int = 100_000,
    ) -> None:
        self.cache = cache
        self.cache_s = cache_s
        # Longer than any access token lives, so a token older than the revocation cannot
        # outlive the key that refuses it.
        self.ttl_s = max(MIN_TTL_S, access_ttl_s + 60)
        # user id → (version, monotonic time of the read or the push that gave it)
        self._seen: TTLCache[str, tuple[int, float]] = TTLCache(
            maxsize=max_entries, ttl=max(cache_s, trust_s), timer=time.monotonic
        )
        self._last: dict[str, int] = {}  # what Redis said last, for a Redis outage
        self._feed: RevocationFeed | None = None
        self._pushes = 0  # revocations received from the feed, to spot one landing mid-read

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[SessionVersions]:
        """Follow the revocations other processes publish, for the block's duration (a service's
        lifespan). Without Redis there is nothing to follow, and entries last `cache_s`."""
        redis = self.cache.redis
        if redis is None:
            yield self
            return
        feed = RevocationFeed(
            redis, self._revoked, fresh_s=self.cache_s, up=self.cache.metrics.session_feed_up
        )
        async with feed.running():
            self._feed = feed
            try:
                yield self
            finally:
                self._feed = None

    @property
    def feed(self) -> RevocationFeed | None:
        """The revocation feed while `listening`."""
        return self._feed

    async def is_current(self, user_id: str, session_version: int) -> bool:
        """Whether a token issued with `session_version` has not been revoked since."""
        return session_version >= await self.current(user_id)

    async def current(self, user_id: str) -> int:
        """The lowest version still valid (0 when nothing was revoked lately)."""
        now = time.monotonic()
        entry = self._seen.get(user_id)
        if entry is not None:
            version, read_at = entry
            feed = self._feed
            if now - read_at < self.cache_s or (
                feed is not None and feed.vouches_for(read_at, now)
            ):
                return version
        pushes = self._pushes
        version = await self._read(user_id)
        # A revocation pushed while the read was on its way may be newer than what it returned.
        pushed = self._seen.get(user_id)
        if pushed is not None and pushed[0] > version:
            version = pushed[0]
        if self._pushes == pushes:  # else read again next time rather than reason about order
            self._seen[user_id] = (version, now)
        return version

    def _revoked(self, user_id: str, version: int) -> None:
        """A version pushed by the feed: applied at once, kept while the feed vouches for it."""
        self._pushes += 1
        entry = self._seen.get(user_id)
        if entry is not None and entry[0] > version:
            version = entry[0]
        self._seen[user_id] = (version, time.monotonic())
        self._last[user_id] = max(version, self._last.get(user_id, 0))

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
        """Make every token of `user_id` below `version` invalid everywhere: at once where the
        feed is up, within `cache_s` where it is not."""
        redis = self.cache.redis
        if redis is None:
            raise SessionPublishError("no Redis to publish the session version to")
        try:
            stored = await redis.eval(
                _RAISE,
                1,
                SESSION.key(user_id=user_id),
                version,
                self.ttl_s,
                REVOCATIONS_CHANNEL,
                revocation_message(user_id, version),
            )
        except (RedisError, OSError, TimeoutError) as exc:
            self.cache.report_l2_failure("session", exc)
            raise SessionPublishError(f"Redis did not take the revocation: {exc}") from exc
        # What Redis holds now: `version`, or a higher one published before it.
        self._revoked(user_id, max(version, int(stored)))


def _parse(raw: object) -> int:
    """The stored version; a value of another shape (an older release's cache entry) is none."""
    if raw is None:
        return 0
    try:
        return int(raw if isinstance(raw, bytes | str) else str(raw))
    except ValueError:
        return 0

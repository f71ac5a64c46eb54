"""Revocations pushed over Redis pub/sub, so that a service may trust its cached session versions
for longer than the poll interval, and sees a revocation as soon as it is published.

The script that raises a user's stored session version (`services.kit.sessions`) also publishes
`<user id> <version>` on `REVOCATIONS_CHANNEL`. Each service process holds one subscription and
hands every message to its `SessionVersions`. Pub/sub reaches only connected subscribers, so the
feed vouches for a cached entry only when both hold:

- the subscription was confirmed before the entry was read: a revocation published after the
  read reaches this process, and one published before it is in what the read returned;
- the subscription's connection has answered within `fresh_s` (it is pinged every half of that
  while no message comes), so a connection that died without a word loses its trust as fast as
  the poll interval would have expired the entry.

After an error the feed subscribes again, and entries read before the new subscription are not
vouched for: a revocation published in the gap is read from Redis instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
from prometheus_client import Gauge
from redis.exceptions import RedisError

from services.kit.background import stop

log = logging.getLogger(__name__)

REVOCATIONS_CHANNEL = "session:revoked"


def revocation_message(user_id: str, version: int) -> str:
    """What the feed carries for one revocation (user ids hold no spaces: they are UUIDs)."""
    return f"{user_id} {version}"


def parse_revocation(data: bytes | str) -> tuple[str, int] | None:
    """(user id, version) of a message; None for a message of another shape."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    user_id, _, version = text.rpartition(" ")
    if not user_id or not version.isdigit():
        return None
    return user_id, int(version)


class RevocationFeed:
    """One subscription to `REVOCATIONS_CHANNEL`, kept up until stopped."""

    def __init__(
        self,
        redis: aioredis.Redis,
        on_revocation: Callable[[str, int], None],
        *,
        fresh_s: float,
        retry_s: float = 1.0,
        up: Gauge | None = None,
    ) -> None:
        self._redis = redis
        self._on_revocation = on_revocation
        self.fresh_s = fresh_s
        self._retry_s = retry_s
        self.subscribed_at: float | None = None  # monotonic time of the confirmation
        self.subscribed = asyncio.Event()  # set while subscribed
        self._heard_at = -math.inf
        self._stopping = False
        self._failing_since: float | None = None
        self._up = up  # 1 while subscribed, for dashboards

    def vouches_for(self, read_at: float, now: float) -> bool:
        """Whether an entry read at `read_at` (monotonic) is still current at `now`."""
        subscribed_at = self.subscribed_at
        return (
            subscribed_at is not None
            and subscribed_at <= read_at
            and now - self._heard_at < self.fresh_s
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RevocationFeed]:
        task = asyncio.create_task(self._run(), name="session-revocation-feed")
        try:
            yield self
        finally:
            self._stopping = True
            self.subscribed_at = None
            await stop(task)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._listen()
            except (RedisError, OSError, TimeoutError) as exc:  # `_listen` has unsubscribed
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                    log.warning(
                        "session revocation feed lost (%r): versions are read every %.1f s "
                        "until it is back",
                        exc,
                        self.fresh_s,
                    )
                await asyncio.sleep(self._retry_s)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(REVOCATIONS_CHANNEL)
            while not self._stopping:
                message = await pubsub.get_message(timeout=self.fresh_s / 2)
                if message is None:
                    await pubsub.ping()  # answered as a 'pong' message
                    continue
                self._heard_at = time.monotonic()
                kind = message.get("type")
                if kind == "subscribe":
                    self.subscribed_at = self._heard_at
                    self.subscribed.set()
                    if self._up is not None:
                        self._up.set(1)
                    self._recovered()
                elif kind == "message" and (found := parse_revocation(message["data"])):
                    self._on_revocation(*found)
        finally:
            self.subscribed_at = None
            self.subscribed.clear()
            if self._up is not None:
                self._up.set(0)
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await pubsub.aclose()

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.info(
                "session revocation feed back after %.1f s",
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None

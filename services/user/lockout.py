"""Lockout that does not reveal which emails have accounts.

A known account's failures are counted in PostgreSQL (`users.failed_logins`, `locked_until`).
An unknown email's are counted in Redis under a hash of the address, with the same threshold and
lock length, so both answer alike: 401 for each wrong attempt, then the same 429 with the same
body and a Retry-After computed the same way. If Redis is down, unknown emails are not counted
(the kit's rule: Redis outages cost no errors).
"""

from __future__ import annotations

import hashlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LOCKED_MESSAGE = "too many failed logins; the account is locked for a while"


def _keys(email: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"login:unknown:{digest}:failures", f"login:unknown:{digest}:locked"


class UnknownEmailLockout:
    def __init__(self, redis: Redis, threshold: int, lockout_s: int) -> None:
        self.redis = redis
        self.threshold = threshold
        self.lockout_s = lockout_s

    async def locked_for(self, email: str) -> float:
        """Seconds left of the email's lock; 0 when not locked."""
        _, locked = _keys(email)
        try:
            ttl_ms = int(await self.redis.pttl(locked))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("lockout check skipped, Redis failed: %s", exc)
            return 0.0
        return max(ttl_ms, 0) / 1000

    async def record_failure(self, email: str) -> None:
        """Count a failure; the `threshold`-th in a row locks the email for `lockout_s`."""
        failures, locked = _keys(email)
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.incr(failures)
            pipe.expire(failures, self.lockout_s)
            count, _ = await pipe.execute()
            if int(count) >= self.threshold:
                pipe = self.redis.pipeline(transaction=True)
                pipe.set(locked, b"1", ex=self.lockout_s)
                pipe.delete(failures)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("lockout count skipped, Redis failed: %s", exc)

"""After a reload, drop the L2 entries built from the old data (places and the city list)."""

from __future__ import annotations

from redis.exceptions import RedisError

from services.kit.redis_client import redis_from_url

STALE_PATTERNS = ("location:*", "static:cities:*")


async def drop_stale_caches(redis_url: str) -> int | None:
    """How many keys were deleted, or None when Redis could not be reached (not an error:
    the entries expire by their TTL; replicas' L1 copies expire within 5 minutes anyway)."""
    client = redis_from_url(redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
    dropped = 0
    try:
        for pattern in STALE_PATTERNS:
            async for key in client.scan_iter(match=pattern, count=500):
                dropped += await client.delete(key)
    except (RedisError, OSError):
        return None
    finally:
        await client.aclose()
    return dropped

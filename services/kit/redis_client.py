"""The services' Redis client, from `TRIPGEN_REDIS_URL`: one server, or the current primary as
Redis Sentinel names it.

    redis://[:password@]host:port/db                               one server (dev, tests)
    redis+sentinel://[:password@]host:port[,host:port…]/MASTER[/db]  ask these Sentinels for the
                                                                     primary called MASTER

With Sentinels every new connection asks them for the primary, so after a failover the client
reconnects to the promoted replica by itself (the connections to the lost primary fail once and
are dropped). The password is the data nodes'; the Sentinels themselves take none.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"


class RedisUrlError(ValueError):
    """A `redis+sentinel://` URL the client cannot use; the message says what is wrong."""


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int, str | None]:
    """Sentinel addresses, primary name, database and password of a `redis+sentinel://` URL."""
    parts = urlsplit(url)
    _, _, hosts = parts.netloc.rpartition("@")
    password = unquote(parts.password) if parts.password else None
    sentinels: list[tuple[str, int]] = []
    for item in filter(None, hosts.split(",")):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise RedisUrlError(f"TRIPGEN_REDIS_URL: sentinel address {item!r} is not host:port")
        sentinels.append((host, int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not sentinels or not path:
        raise RedisUrlError(
            "TRIPGEN_REDIS_URL: expected redis+sentinel://[:password@]host:port[,…]/MASTER[/db]"
        )
    if len(path) > 1 and not path[1].isdigit():
        raise RedisUrlError(f"TRIPGEN_REDIS_URL: database {path[1]!r} is not a number")
    return sentinels, path[0], int(path[1]) if len(path) > 1 else 0, password


def redis_from_url(url: str, **kwargs: Any) -> Redis:
    """A client for `url` (either form above); `kwargs` are connection options such as
    `socket_timeout`, applied to the data nodes and the Sentinels alike."""
    if urlsplit(url).scheme != SENTINEL_SCHEME:
        return Redis.from_url(url, **kwargs)
    sentinels, master, db, password = parse_sentinel_url(url)
    timeouts = {k: v for k, v in kwargs.items() if k.startswith("socket_")}
    sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts, **kwargs)
    client: Redis = sentinel.master_for(master, db=db, password=password)
    return client

"""The async PostgreSQL pool: one per process, opened in the app's lifespan, schema-scoped."""

from __future__ import annotations

import logging
import select
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# Every service pool hands out connections whose rows are dicts.
DictConnection = AsyncConnection[DictRow]
DictPool = AsyncConnectionPool[DictConnection]


def schema_of(service: str) -> str:
    """The PostgreSQL schema a service owns (SPEC.md › Services): `user` → `user_db`."""
    return f"{service}_db"


async def open_pool(
    dsn: str,
    *,
    schema: str,
    min_size: int = 2,
    max_size: int = 10,
    timeout_s: float = 5.0,
    wait: bool = False,
) -> DictPool:
    """Open a pool whose connections see `schema` first, then `public` (PostGIS lives there).

    With `wait=False` the service still starts while PostgreSQL is down; readiness reports it.
    """

    kwargs: dict[str, Any] = {
        "options": f"-c search_path={schema},public",
        "autocommit": True,
        "row_factory": dict_row,
    }
    pool: DictPool = AsyncConnectionPool(
        dsn,
        connection_class=DictConnection,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        open=False,
        kwargs=kwargs,
        name=schema,
        configure=use_orjson,
        # A restarted PostgreSQL leaves dead connections in the pool: check before handing out.
        check=check_idle_connection,
        reconnect_timeout=30.0,
    )
    await pool.open(wait=wait, timeout=timeout_s)
    return pool


async def use_orjson(conn: DictConnection) -> None:
    """json/jsonb values in and out through orjson, not the standard library: a few times
    faster on itineraries, outbox bodies and opening hours (keys must be strings, as they are)."""
    set_json_dumps(orjson.dumps, conn)
    set_json_loads(orjson.loads, conn)


async def check_idle_connection(conn: DictConnection) -> None:
    """Hand out an idle connection unless the server has spoken on it; else check it.

    An idle connection has nothing to read unless the server closed it (a restart, a failover,
    the proxy in front going away: FIN or RST) or sent a notice. Only then is a round trip
    spent (`AsyncConnectionPool.check_connection`, which raises on a dead one and makes the
    pool open another). Checking every checkout that way cost a round trip per request: a
    third of a profile read's database time. A server that vanished without closing its
    sockets is not seen by either check; the query's own timeout covers it.
    """
    if conn.closed:
        raise ConnectionError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


async def ping(pool: DictPool, timeout_s: float = 2.0) -> bool:
    """True when a pooled connection answers `SELECT 1` within the timeout."""
    try:
        async with pool.connection(timeout=timeout_s) as conn:
            await conn.execute("SELECT 1")
        return True
    except Exception as exc:  # readiness reports any failure; the reason goes to the log
        log.warning("postgresql ping failed: %s", exc)
        return False

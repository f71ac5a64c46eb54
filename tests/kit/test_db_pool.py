"""The pool's checkout check on a real PostgreSQL: no round trip for a healthy idle connection,
a connection the server closed is replaced, not handed out; JSON through orjson."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from services.kit.db import check_idle_connection, open_pool

pytestmark = pytest.mark.asyncio


async def test_a_healthy_idle_connection_is_handed_out_without_a_round_trip(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    round_trips: list[object] = []

    async def counted(conn: object) -> None:
        round_trips.append(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", counted)
    pool = await open_pool(postgres_dsn, schema="public", min_size=1, max_size=1, wait=True)
    try:
        for _ in range(3):
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT 1 AS one")
                assert await cur.fetchone() == {"one": 1}
        assert round_trips == []
        # A notice waiting on the socket is something to read: then the round trip is made.
        async with pool.connection() as conn:
            await conn.execute("LISTEN tripgen_test")
        with psycopg.connect(postgres_dsn, autocommit=True) as other:
            other.execute("NOTIFY tripgen_test")
        await asyncio.sleep(0.2)  # the notification reaches the idle connection's socket
        async with pool.connection() as conn:
            pass
        assert len(round_trips) >= 1
    finally:
        await pool.close()


async def test_a_connection_the_server_ended_is_replaced_at_checkout(postgres_dsn: str) -> None:
    pool = await open_pool(postgres_dsn, schema="public", min_size=1, max_size=1, wait=True)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid() AS pid")
            row = await cur.fetchone()
            assert row is not None
            first_pid = row["pid"]
        # What a restart or failover does to the pool's idle connections.
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first_pid,))  # waits for exit
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid() AS pid")
            row = await cur.fetchone()
            assert row is not None
            assert row["pid"] != first_pid
    finally:
        await pool.close()


async def test_a_closed_connection_fails_the_check(postgres_dsn: str) -> None:
    conn = await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True)
    await conn.close()
    with pytest.raises(ConnectionError, match="closed"):
        await check_idle_connection(conn)  # type: ignore[arg-type]


async def test_json_goes_through_orjson_both_ways(postgres_dsn: str) -> None:
    pool = await open_pool(postgres_dsn, schema="public", min_size=1, max_size=1, wait=True)
    value = {"이름": "경복궁", "hours": {"mon": [["09:00", "18:00"]], "sun": None}, "n": 1.5}
    try:
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT %s::jsonb AS v", (Jsonb(value),))).fetchone()
            assert row is not None and row["v"] == value
            # orjson, unlike the standard library, refuses non-string keys: proof of which one ran
            with pytest.raises(TypeError):
                await conn.execute("SELECT %s::jsonb", (Jsonb({1: "x"}),))
    finally:
        await pool.close()

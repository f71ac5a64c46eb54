"""Fixtures every test can use: the real PostgreSQL + PostGIS and Redis of `simulation.backing`.

The servers start once per session on free loopback ports. Where their binaries are missing the
tests that need them are skipped with the install command, except in CI (`CI=true`), where a
missing server is a failure: CI must never pass by skipping the integration tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from simulation.backing import BackingServices, BinariesMissingError, ensure_binaries, is_ci


@pytest.fixture(scope="session")
def backing() -> Iterator[BackingServices]:
    """PostgreSQL 15 + PostGIS and Redis for the whole session, stopped at its end."""
    try:
        ensure_binaries()
    except BinariesMissingError as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    with BackingServices() as services:
        yield services


@pytest.fixture(scope="session")
def postgres_dsn(backing: BackingServices) -> str:
    """`postgresql://tripgen:tripgen@127.0.0.1:PORT/tripgen`, with postgis and pg_trgm created."""
    return backing.postgres.dsn


@pytest.fixture(scope="session")
def redis_url(backing: BackingServices) -> str:
    """`redis://127.0.0.1:PORT/0`."""
    return backing.redis.url


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    """The session Redis, emptied (FLUSHALL) before the test; returns its URL."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_url

"""Revocation reaches every service within a second: logout, a role change and a deletion at
user-service make trip-service and location-service refuse the old access token too.

The three apps run in process against the same real PostgreSQL and Redis, as replicas share them
in a deployment; nothing passes between them but the session version in Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from services.kit.migrations import migrate
from services.kit.sessions import CACHE_S, DELETED, SessionPublishError
from services.location.app import create_app as create_location
from services.location.settings import LocationSettings
from services.trip.app import create_app as create_trip
from services.trip.settings import TripSettings
from services.user.app import create_app as create_user
from services.user.settings import UserSettings
from tests.support import bearer, serving, session_versions, unique_email

pytestmark = pytest.mark.integration
PASSWORD = "revocation-test-42"
MARGIN_S = 0.5  # scheduling noise on a shared 2-core machine, on top of the 1 s cache


@dataclass
class Platform:
    users: httpx.AsyncClient
    trips: httpx.AsyncClient
    locations: httpx.AsyncClient
    dsn: str
    apps: tuple[FastAPI, ...]

    async def account(self, role: str = "USER") -> tuple[str, dict[str, str]]:
        email = unique_email("revoke")
        r = await self.users.post(
            "/api/users/register", json={"email": email, "password": PASSWORD, "name": "R"}
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        if role != "USER":
            async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                await conn.execute(
                    "UPDATE user_db.users SET role = %s WHERE id = %s", (role, user_id)
                )
        r = await self.users.post("/api/users/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return user_id, bearer(r.json()["access_token"])

    async def statuses(self, auth: dict[str, str]) -> tuple[int, int, int]:
        """What user-, trip- and location-service answer this token right now."""
        user = await self.users.get("/api/users/me", headers=auth)
        trip = await self.trips.get("/api/trips", headers=auth)
        location = await self.locations.get("/api/locations/cities", headers=auth)
        return user.status_code, trip.status_code, location.status_code


@asynccontextmanager
async def platform(dsn: str, redis_url: str) -> AsyncIterator[Platform]:
    common: dict[str, Any] = {
        "database_url": dsn,
        "redis_url": redis_url,
        "rate_limit_per_minute": 0,
        "log_json": False,
    }
    apps = (
        create_user(UserSettings(**common, argon2_time_cost=1, argon2_memory_kib=1024)),
        create_trip(TripSettings(**common)),
        create_location(LocationSettings(**common)),
    )
    async with AsyncExitStack() as stack:
        users, trips, locations = [await stack.enter_async_context(serving(a)) for a in apps]
        yield Platform(users, trips, locations, dsn, apps)


@pytest.fixture
async def services(postgres_dsn: str, clean_redis: str) -> AsyncIterator[Platform]:
    for name in ("user", "trip", "location"):
        await migrate(postgres_dsn, name)
    async with platform(postgres_dsn, clean_redis) as running:
        yield running


async def _refused_everywhere_within(platform: Platform, auth: dict[str, str]) -> float:
    """Seconds until every service answers 401; fails past the 1 s bound (plus noise)."""
    began = time.monotonic()
    while True:
        codes = await platform.statuses(auth)
        elapsed = time.monotonic() - began
        if codes == (401, 401, 401):
            return elapsed
        assert elapsed < CACHE_S + MARGIN_S, f"still {codes} after {elapsed:.2f} s"
        await _pause()


async def _pause() -> None:
    await asyncio.sleep(0.05)


async def _logout(p: Platform, user_id: str, auth: dict[str, str]) -> None:
    assert (await p.users.post("/api/users/logout", headers=auth)).status_code == 204


async def _delete_me(p: Platform, user_id: str, auth: dict[str, str]) -> None:
    assert (await p.users.delete("/api/users/me", headers=auth)).status_code == 204


async def _demote(p: Platform, user_id: str, auth: dict[str, str]) -> None:
    _, admin = await p.account("ADMIN")
    r = await p.users.patch(f"/api/users/{user_id}/role", json={"role": "USER"}, headers=admin)
    assert r.status_code == 200, r.text


async def _deleted_by_admin(p: Platform, user_id: str, auth: dict[str, str]) -> None:
    _, admin = await p.account("ADMIN")
    assert (await p.users.delete(f"/api/users/{user_id}", headers=admin)).status_code == 204


Revoke = Callable[[Platform, str, dict[str, str]], Awaitable[None]]


@pytest.mark.parametrize(
    ("role", "revoke"),
    [
        pytest.param("USER", _logout, id="logout"),
        pytest.param("POWER_USER", _demote, id="role-change"),
        pytest.param("USER", _delete_me, id="self-deletion"),
        pytest.param("USER", _deleted_by_admin, id="deleted-by-admin"),
    ],
)
async def test_revocation_reaches_every_service_within_a_second(
    services: Platform, role: str, revoke: Revoke
) -> None:
    user_id, auth = await services.account(role)
    # Each service has now seen (and cached) the session as current.
    assert await services.statuses(auth) == (200, 200, 200)
    await revoke(services, user_id, auth)
    assert (await services.users.get("/api/users/me", headers=auth)).status_code == 401
    elapsed = await _refused_everywhere_within(services, auth)
    print(f"refused by user, trip and location after {elapsed:.3f} s")
    # And it stays refused once every cache has expired.
    await _pause()
    assert await services.statuses(auth) == (401, 401, 401)


async def test_every_service_follows_the_revocation_feed(services: Platform) -> None:
    """Each service subscribes in its lifespan, so a revocation reaches it at once rather than
    after its 1 s poll."""
    for app in services.apps:
        feed = app.state.sessions.feed
        assert feed is not None, f"{app.title} does not follow revocations"
        await asyncio.wait_for(feed.subscribed.wait(), 5)
        assert b"\nsession_revocation_feed_up 1.0\n" in app.state.metrics.render()


async def test_a_new_login_after_logout_works_everywhere(services: Platform) -> None:
    user_id, auth = await services.account()
    await _logout(services, user_id, auth)
    await _refused_everywhere_within(services, auth)
    r = await services.users.post(
        "/api/users/login",
        json={"email": (await _email_of(services, user_id)), "password": PASSWORD},
    )
    assert await services.statuses(bearer(r.json()["access_token"])) == (200, 200, 200)


async def _email_of(p: Platform, user_id: str) -> str:
    async with await psycopg.AsyncConnection.connect(p.dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT email FROM user_db.users WHERE id = %s", (user_id,))
        row = await cur.fetchone()
    assert row is not None
    return str(row[0])


# -- SessionVersions on its own --------------------------------------------------------------


async def test_a_published_version_only_goes_up_and_outlives_access_tokens(
    clean_redis: str,
) -> None:
    redis = aioredis.Redis.from_url(clean_redis)
    try:
        writer, reader = session_versions(redis), session_versions(redis, cache_s=0.2)
        assert await reader.is_current("u1", 0)  # nothing revoked: any version is current
        await writer.publish("u1", 3)
        await writer.publish("u1", 2)  # a late, older revocation does not undo the newer one
        assert await redis.get("session:u1") == b"3"
        assert 30 * 60 - 5 <= await redis.ttl("session:u1") <= 30 * 60
        assert await reader.is_current("u1", 2)  # the reader's cached view, for up to 0.2 s
        await _sleep(0.25)
        assert await reader.is_current("u1", 3) and not await reader.is_current("u1", 2)
        await writer.publish("u1", DELETED)
        assert not await writer.is_current("u1", 3)  # the publisher sees it at once …
        await _sleep(0.25)
        assert not await reader.is_current("u1", 3)  # … the others within cache_s
        await redis.set("session:u9", b'{"sv": 4, "role": "USER"}')  # an older release's entry
        assert await reader.is_current("u9", 0)
    finally:
        await redis.aclose()


async def test_redis_down_fails_open_on_reads_and_loudly_on_publish(clean_redis: str) -> None:
    redis = aioredis.Redis.from_url(clean_redis)
    try:
        versions = session_versions(redis, cache_s=0.01)
        await versions.publish("u1", 2)
        assert not await versions.is_current("u1", 1)
        versions.cache.redis = aioredis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2)
        await _sleep(0.02)
        # Reads keep the last version seen (u1) or none (u2): an outage costs no errors.
        assert not await versions.is_current("u1", 1)
        assert await versions.is_current("u2", 0)
        with pytest.raises(SessionPublishError):
            await versions.publish("u2", 1)
    finally:
        await redis.aclose()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)

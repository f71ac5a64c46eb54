"""trip-service against real PostgreSQL and Redis, with location-service faked at the HTTP edge.

The app runs its real lifespan (pool, Redis, the Redis Streams queue, the outbox relay and the
trip-sync consumer). location-service is being built separately, so its two routes are answered
by `FakeLocationService` through an httpx MockTransport swapped into `resources.http`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from services.kit.auth import Role, service_token
from services.kit.migrations import migrate
from services.kit.queue import QueuePort, ReceivedMessage, RedisStreamsQueue
from services.trip.app import create_app
from services.trip.settings import TripSettings
from tests.support import bearer, serving

LOCATION_URL = "http://location.test"
USER_URL = "http://user.test"  # answered by the same fake: user-service's internal user route
USERS_INTERNAL = "/api/users/internal/"
CITIES = ("Seoul", "Busan", "Jeju", "Tokyo")
PLACES = ("seoul-gyeongbokgung", "seoul-n-seoul-tower", "busan-haeundae-beach", "jeju-seongsan")


@dataclass
class FakeLocationService:
    """location-service's `GET /cities` and `GET /places?ids=…`, shaped as it answers them."""

    cities: tuple[str, ...] = CITIES
    places: tuple[str, ...] = PLACES
    down: bool = False  # every call fails to connect
    status: int = 200  # answered instead of the data when not 200
    calls: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)
    # user-service's internal "does this user exist" route answers no for these ids.
    missing_users: set[str] = field(default_factory=set)
    # When set, calls wait for it (after setting `entered`): a request held in flight.
    gate: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.url.path, request.headers.get("authorization")))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status != 200:
            return httpx.Response(self.status, json={"title": "broken"})
        if request.url.path.startswith(USERS_INTERNAL):
            user_id = request.url.path.removeprefix(USERS_INTERNAL)
            return httpx.Response(
                200, json={"id": user_id, "exists": user_id not in self.missing_users}
            )
        if request.url.path == "/api/locations/cities":
            items = [
                {"city": c, "country": "KR", "place_count": 10, "lat": 37.5, "lng": 127.0}
                for c in self.cities
            ]
            return httpx.Response(200, json={"items": items, "count": len(items)})
        if request.url.path == "/api/locations/places":
            wanted = request.url.params["ids"].split(",")
            found = [{"id": p, "name_en": p, "city": "Seoul"} for p in wanted if p in self.places]
            missing = [p for p in wanted if p not in self.places]
            return httpx.Response(200, json={"items": found, "missing": missing})
        return httpx.Response(404, json={"title": "Not found"})

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.calls if p == path)


@dataclass
class TripService:
    """A running trip-service app, its client, and a way to mint users."""

    app: FastAPI
    client: httpx.AsyncClient
    location: FakeLocationService

    def user(self) -> tuple[str, dict[str, str]]:
        """A new user id and the Authorization header of an access token for it."""
        user_id = str(uuid.uuid4())
        return user_id, bearer(self.app.state.tokens.issue(user_id, Role.USER, 0))

    def service_headers(self) -> dict[str, str]:
        return bearer(service_token(self.app.state.tokens, "ai"))

    async def create_trip(self, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
        r = await self.client.post("/api/trips", json=trip_payload(**overrides), headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def share(
        self, trip_id: str, owner: dict[str, str], user_id: str, role: str
    ) -> dict[str, Any]:
        r = await self.client.post(
            f"/api/trips/{trip_id}/members", json={"user_id": user_id, "role": role}, headers=owner
        )
        assert r.status_code in (200, 201), r.text
        return r.json()


def trip_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Spring in Seoul",
        "destination_city": "Seoul",
        "start_date": "2026-04-01",
        "end_date": "2026-04-03",
        "travellers": 2,
        "budget": "medium",
        "pace": "normal",
        "preferred_categories": ["culture", "food"],
        "must_visit": ["seoul-gyeongbokgung"],
        "lodging": {"lat": 37.5665, "lng": 126.978},
        "mode": "transit",
        "wishes": "a quiet tea house",
    }
    payload.update(overrides)
    return payload


@pytest.fixture(scope="session")
async def trip_schema(postgres_dsn: str) -> str:
    await migrate(postgres_dsn, "trip")
    return postgres_dsn


@pytest.fixture
def trip_settings(trip_schema: str, redis_url: str) -> Callable[..., TripSettings]:
    def make(**overrides: Any) -> TripSettings:
        values: dict[str, Any] = {
            "database_url": trip_schema,
            "redis_url": redis_url,
            "location_url": LOCATION_URL,
            "user_url": USER_URL,
            "rate_limit_per_minute": 0,
            "log_json": False,
            # Short waits keep the suite quick; a commit also wakes the relay at once.
            "outbox_relay_interval_s": 0.1,
            "events_receive_wait_s": 0.2,
            # Each test its own namespace for the cached city list and confirmed places (the
            # session Redis outlives a test).
            "cities_cache_version": uuid.uuid4().hex[:12],
            **overrides,
        }
        return TripSettings(**values)

    return make


@pytest.fixture
def location() -> FakeLocationService:
    return FakeLocationService()


@asynccontextmanager
async def running(
    settings: TripSettings, location: FakeLocationService
) -> AsyncIterator[TripService]:
    """The app with its lifespan running and its HTTP client talking to `location`."""
    app = create_app(settings)
    async with serving(app) as client:
        resources = app.state.resources
        fake_http = httpx.AsyncClient(transport=httpx.MockTransport(location.handle))
        real_http, resources.http = resources.http, fake_http
        try:
            yield TripService(app, client, location)
        finally:
            resources.http = real_http
            await fake_http.aclose()


@pytest.fixture
async def service(
    trip_settings: Callable[..., TripSettings], location: FakeLocationService
) -> AsyncIterator[TripService]:
    async with running(trip_settings(), location) as started:
        yield started


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[QueuePort]:
    """The real Redis Streams adapter on the session Redis, as another service would hold it."""
    client = aioredis.Redis.from_url(redis_url)
    adapter = RedisStreamsQueue(client, poll_interval_s=0.05)
    try:
        yield adapter
    finally:
        await adapter.close()
        await client.aclose()


async def collect(
    queue: QueuePort,
    entity: str,
    wanted: Callable[[ReceivedMessage], bool],
    *,
    count: int = 1,
    subscription: str | None = None,
    timeout_s: float = 10.0,
) -> list[ReceivedMessage]:
    """Receive (and complete) messages until `count` of them match `wanted`."""
    matched: list[ReceivedMessage] = []
    deadline = time.monotonic() + timeout_s
    while len(matched) < count and time.monotonic() < deadline:
        for message in await queue.receive(entity, 20, 0.2, subscription=subscription):
            await queue.complete(message)
            if wanted(message):
                matched.append(message)
    assert len(matched) >= count, f"{len(matched)} of {count} messages on {entity} in time"
    return matched


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)

"""ai-service against the real PostgreSQL, Redis and Redis Streams queue, with the real
location-service app (in process, over the dev sample places) answering its place lookups.

The app runs its real lifespan (pool, Redis, queue, outbox relay, worker, queue gauge); the
planner processes are started once per session and shared by every app (spawning and warming
them costs about a second). location-service is reached through an httpx transport that a test
can switch off to simulate an outage.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from psycopg_pool import PoolTimeout

from chaos.fake_llm import ChaosLLM
from services.ai.app import create_app
from services.ai.planner_pool import PlannerPool
from services.ai.settings import AISettings
from services.datainit.sample import load_ai_reference
from services.kit.auth import Role
from services.kit.migrations import migrate
from services.kit.queue import (
    AI_SCHEDULE_QUEUE,
    NOTIFICATION_QUEUE,
    TRIP_EVENTS_TOPIC,
    QueuePort,
    ReceivedMessage,
    RedisStreamsQueue,
)
from services.kit.trip_events import TRIP_SYNC_SUBSCRIPTION
from services.location.app import create_app as create_location_app
from services.location.places_loader import upsert_places
from services.location.settings import LocationSettings
from tests.support import bearer, serving

LOCATION_URL = "http://location.test"
TRIP_HOST = "trip.test"
PLACES_FILE = Path(__file__).resolve().parents[2] / "services/datainit/data/places.json"
SEOUL_CITY_HALL = {"lat": 37.5665, "lng": 126.978}


@pytest.fixture(scope="session")
async def ai_database(postgres_dsn: str) -> str:
    """ai_db and location_db migrated, the sample places and the AI reference data loaded."""
    await migrate(postgres_dsn, "location")
    await migrate(postgres_dsn, "ai")
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await upsert_places(conn, json.loads(PLACES_FILE.read_text(encoding="utf-8")))
        await load_ai_reference(conn)
    return postgres_dsn


@pytest.fixture(scope="session")
async def planner_pool() -> AsyncIterator[PlannerPool]:
    pool = PlannerPool(2)
    await pool.start()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
async def location_app(ai_database: str, redis_url: str) -> AsyncIterator[FastAPI]:
    """The real location-service, serving the sample places in process."""
    settings = LocationSettings(
        database_url=ai_database, redis_url=redis_url, rate_limit_per_minute=0, log_json=False
    )
    app = create_location_app(settings)
    async with app.router.lifespan_context(app):
        yield app


class SwitchableLocation(httpx.AsyncBaseTransport):
    """location-service as the AI app reaches it: `down = True` refuses every connection,
    `refuse_next = n` the next n. trip-service's `GET /api/trips/{id}` (the schedule visibility
    check) is answered from `trip_viewers`, as trip-service would: 200 for its owner and members,
    404 for anyone else; `trip_down = True` refuses those connections."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.down = False
        self.refuse_next = 0
        self.calls: list[httpx.Request] = []
        self.trip_viewers: dict[str, set[str]] = {}
        self.trip_down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.url.host == TRIP_HOST:
            return self._trip(request)
        if self.down or self.refuse_next > 0:
            self.refuse_next = max(0, self.refuse_next - 1)
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    def _trip(self, request: httpx.Request) -> httpx.Response:
        if self.trip_down:
            raise httpx.ConnectError("connection refused", request=request)
        token = request.headers["authorization"].split()[1]
        caller = jwt.decode(token, options={"verify_signature": False})["sub"]
        trip_id = request.url.path.removeprefix("/api/trips/")
        if caller in self.trip_viewers.get(trip_id, set()):
            return httpx.Response(200, json={"id": trip_id})
        return httpx.Response(404, json={"title": "Not found", "detail": f"no trip {trip_id}"})


@dataclass
class AIService:
    app: FastAPI
    client: httpx.AsyncClient
    queue: QueuePort  # the test's own adapter: the producer and the observer
    location: SwitchableLocation

    def user(self, role: Role = Role.USER) -> tuple[str, dict[str, str]]:
        user_id = str(uuid.uuid4())
        return user_id, bearer(self.app.state.tokens.issue(user_id, role, 0))

    async def request_schedule(
        self,
        *,
        trip_id: str | None = None,
        user_id: str | None = None,
        schedule_id: str | None = None,
        message_id: str | None = None,
        **request: Any,
    ) -> dict[str, Any]:
        """Send an `ai-schedule-generation` message as trip-service does; returns its body."""
        body = generation_body(
            schedule_id=schedule_id or str(uuid.uuid4()),
            trip_id=trip_id or str(uuid.uuid4()),
            user_id=user_id or str(uuid.uuid4()),
            **request,
        )
        await self.queue.send(
            AI_SCHEDULE_QUEUE,
            body,
            message_id=message_id or body["schedule_id"],
            session_id=body["trip_id"],
        )
        return body

    async def schedule(self, schedule_id: str) -> dict[str, Any] | None:
        record = await self.app.state.ai_resources.schedules.get(schedule_id)
        return record.public() if record else None

    async def wait_for(
        self,
        schedule_id: str,
        statuses: tuple[str, ...] = ("done", "failed"),
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                schedule = await self.schedule(schedule_id)
            except (psycopg.OperationalError, PoolTimeout):  # a test that stopped PostgreSQL
                schedule = None
            if schedule is not None and schedule["status"] in statuses:
                return schedule
            assert time.monotonic() < deadline, f"schedule {schedule_id} is {schedule}"
            await asyncio.sleep(0.05)

    def metric(self, name: str, **labels: str) -> float:
        value = self.app.state.metrics.registry.get_sample_value(name, labels)
        return float(value or 0.0)


def generation_body(
    *, schedule_id: str, trip_id: str, user_id: str, **request: Any
) -> dict[str, Any]:
    """contracts.md › Messages, `ai-schedule-generation`."""
    return {
        "schedule_id": schedule_id,
        "trip_id": trip_id,
        "requested_by": user_id,
        "requested_at": "2026-03-01T10:00:00+00:00",
        "request": schedule_request(**request),
    }


def schedule_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "city": "Seoul",
        "start_date": "2026-04-01",  # a Wednesday
        "end_date": "2026-04-02",
        "travellers": 2,
        "budget": "medium",
        "pace": "normal",
        "preferred_categories": ["culture", "food"],
        "must_visit": ["seoul-gyeongbokgung"],
        "lodging": dict(SEOUL_CITY_HALL),
        "mode": "transit",
        "wishes": None,
    }
    request.update(overrides)
    return request


@pytest.fixture
def ai_settings(ai_database: str, redis_url: str) -> Callable[..., AISettings]:
    def make(**overrides: Any) -> AISettings:
        values: dict[str, Any] = {
            "database_url": ai_database,
            "redis_url": redis_url,
            "location_url": LOCATION_URL,
            "trip_url": f"http://{TRIP_HOST}",
            "rate_limit_per_minute": 0,
            "log_json": False,
            # Short waits and pauses keep the suite quick; the limit keeps plans realistic.
            "worker_concurrency": 2,
            "worker_receive_wait_s": 0.2,
            "retry_backoff_s": 0.05,
            "queue_metrics_interval_s": 0.1,
            "outbox_relay_interval_s": 0.1,
            "planner_time_limit_s": 0.5,
            **overrides,
        }
        return AISettings(**values)

    return make


@pytest.fixture
def start_ai(
    ai_settings: Callable[..., AISettings],
    planner_pool: PlannerPool,
    location_app: FastAPI,
    clean_redis: str,
) -> Callable[..., Any]:
    """`async with start_ai(**settings) as service:` a running ai-service for the test."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[AIService]:
        app = create_app(ai_settings(**overrides), planner_pool=planner_pool)
        location = SwitchableLocation(location_app)
        client = aioredis.Redis.from_url(clean_redis)
        queue = RedisStreamsQueue(client, poll_interval_s=0.05)
        try:
            async with serving(app) as api:
                resources = app.state.resources
                real_http = resources.http
                resources.http = httpx.AsyncClient(transport=location)
                try:
                    yield AIService(app, api, queue, location)
                finally:
                    await resources.http.aclose()
                    resources.http = real_http
        finally:
            await queue.close()
            await client.aclose()

    return start


@pytest.fixture
async def service(start_ai: Callable[..., Any]) -> AsyncIterator[AIService]:
    async with start_ai() as running:
        yield running


@pytest.fixture
def fake_llm() -> Iterator[ChaosLLM]:
    # Deterministic failures: the breaker tests count calls, a random draw would make them flaky.
    server = ChaosLLM(deterministic=True).start()
    try:
        yield server
    finally:
        server.stop()


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
        for message in await queue.receive(entity, 20, 0.1, subscription=subscription):
            await queue.complete(message)
            if wanted(message):
                matched.append(message)
    assert len(matched) >= count, f"{len(matched)} of {count} messages on {entity} in time"
    return matched


async def events_of(
    queue: QueuePort, schedule_id: str, count: int, subscription: str = TRIP_SYNC_SUBSCRIPTION
) -> list[dict[str, Any]]:
    messages = await collect(
        queue,
        TRIP_EVENTS_TOPIC,
        lambda m: m.body.get("schedule_id") == schedule_id,
        count=count,
        subscription=subscription,
    )
    return [m.body for m in messages]


async def notifications_of(queue: QueuePort, schedule_id: str) -> list[ReceivedMessage]:
    return await collect(
        queue, NOTIFICATION_QUEUE, lambda m: m.body.get("schedule_id") == schedule_id
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)

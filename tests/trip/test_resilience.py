"""Outages: Redis stopped mid-test (the outbox delivers later), location-service down (503), a
connection breaking around a trip's insert (201 if the trip was stored, else 503), and the
replica's metrics (active_connections for the HPA, the relay's counters)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from psycopg import OperationalError
from psycopg_pool import PoolTimeout

from services.kit.db import open_pool
from services.kit.queue import TRIP_EVENTS_TOPIC, QueuePort
from services.trip.repository import TripRepository
from services.trip.settings import TripSettings
from simulation.backing import BackingServices
from tests.trip.conftest import (
    FakeLocationService,
    TripService,
    collect,
    eventually,
    running,
    trip_payload,
)

pytestmark = pytest.mark.integration


async def test_a_trip_created_while_redis_is_down_is_announced_once_redis_is_back(
    service: TripService, queue: QueuePort, backing: BackingServices
) -> None:
    _, auth = service.user()
    repo: TripRepository = service.app.state.trip_resources.trips
    backing.redis.stop()
    try:
        r = await service.client.post("/api/trips", json=trip_payload(), headers=auth)
        assert r.status_code == 201, r.text
        trip = r.json()
        got = await service.client.get(f"/api/trips/{trip['id']}", headers=auth)
        assert got.status_code == 200
        await asyncio.sleep(0.3)  # a few relay passes fail meanwhile
        assert await repo.outbox.unsent_count() >= 1
    finally:
        backing.redis.start()
    [event] = await collect(
        queue,
        TRIP_EVENTS_TOPIC,
        lambda m: m.body.get("trip_id") == trip["id"],
        subscription="audit",
        timeout_s=15,
    )
    assert event.body["type"] == "trip.created"

    async def drained() -> bool:
        return await repo.outbox.unsent_count() == 0

    await eventually(drained)
    metrics = (await service.client.get("/metrics")).text
    assert 'outbox_relay_stalls_total{cause="queue"}' in metrics


@pytest.mark.parametrize("failure", ["down", "500", "401"])
async def test_location_service_failing_is_503_with_retry_after(
    service: TripService, failure: str
) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    if failure == "down":
        service.location.down = True
    else:
        service.location.status = int(failure)
    # A place not confirmed before (confirmed ids and the city list are cached): it needs
    # location-service, which is failing.
    body = trip_payload(must_visit=["seoul-n-seoul-tower"])
    r = await service.client.post("/api/trips", json=body, headers=auth)
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "5"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "location-service" in r.json()["detail"]
    r = await service.client.patch(
        f"/api/trips/{trip['id']}", json={"must_visit": ["seoul-n-seoul-tower"]}, headers=auth
    )
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    # Nothing half-done: the failed create left no trip, the failed update no change.
    listed = (await service.client.get("/api/trips", headers=auth)).json()
    assert listed["total"] == 1 and listed["items"][0]["must_visit"] == trip["must_visit"]
    # Changes that need no location check still work.
    r = await service.client.patch(
        f"/api/trips/{trip['id']}", json={"pace": "relaxed"}, headers=auth
    )
    assert r.status_code == 200


async def test_an_uncached_city_list_with_location_service_down_is_503(
    trip_settings: Callable[..., TripSettings], clean_redis: str
) -> None:
    # A fresh app (empty L1) on a flushed Redis (empty L2): the city list must come from HTTP.
    async with running(trip_settings(), FakeLocationService(down=True)) as service:
        _, auth = service.user()
        body = trip_payload(must_visit=[])
        r = await service.client.post("/api/trips", json=body, headers=auth)
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert service.location.count("/api/locations/cities") == 1
        service.location.down = False
        assert (await service.client.post("/api/trips", json=body, headers=auth)).status_code == 201


async def test_active_connections_counts_requests_in_flight(service: TripService) -> None:
    _, auth = service.user()
    await service.create_trip(auth)
    service.location.gate = asyncio.Event()  # the next create waits inside location-service
    service.location.entered.clear()
    body = trip_payload(must_visit=["seoul-n-seoul-tower"])  # not confirmed yet: asked
    pending = asyncio.create_task(service.client.post("/api/trips", json=body, headers=auth))
    await asyncio.wait_for(service.location.entered.wait(), 5)
    during = (await service.client.get("/metrics")).text
    service.location.gate.set()
    assert (await pending).status_code == 201
    after = (await service.client.get("/metrics")).text
    assert "active_connections 1.0" in during
    assert "active_connections 0.0" in after

    async def relayed() -> bool:  # the relay runs in the background: wait for its first pass
        text = (await service.client.get("/metrics")).text
        return 'outbox_relayed_total{entity="trip-events"}' in text

    await eventually(relayed)


async def test_health_and_openapi(service: TripService) -> None:
    for path in ("", "/liveness", "/readiness", "/startup"):
        r = await service.client.get(f"/actuator/health{path}")
        assert r.status_code == 200 and r.json()["status"] == "UP", path
    spec = (await service.client.get("/api/trips/openapi.json")).json()
    assert "/api/trips/{trip_id}/schedules/{schedule_id}" in spec["paths"]


def _break_after_insert(
    monkeypatch: pytest.MonkeyPatch, repo: TripRepository, *, committed: bool
) -> None:
    """The insert's connection breaks after (or before) the commit, as at a failover."""
    original = repo.create_trip

    async def create_trip(*args: object, **kwargs: object) -> object:
        if committed:
            await original(*args, **kwargs)  # type: ignore[arg-type]
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(repo, "create_trip", create_trip)


async def trips_of(repo: TripRepository, owner_id: str) -> int:
    async with repo.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM trips WHERE owner_id = %s", (owner_id,))
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


@pytest.mark.parametrize(
    ("committed", "status", "rows"),
    [(True, 201, 1), (False, 503, 0)],  # stored: 201, not a 503 inviting a second trip
)
async def test_a_create_whose_connection_broke_answers_what_was_stored(
    service: TripService, monkeypatch: pytest.MonkeyPatch, committed: bool, status: int, rows: int
) -> None:
    repo = service.app.state.trip_resources.trips
    _break_after_insert(monkeypatch, repo, committed=committed)
    owner_id, auth = service.user()
    r = await service.client.post("/api/trips", json=trip_payload(), headers=auth)
    assert r.status_code == status, r.text
    if committed:
        assert r.json()["owner_id"] == owner_id
    else:
        assert r.headers.get("retry-after") == "5"  # safe to retry: nothing was stored
    assert await trips_of(repo, owner_id) == rows


async def test_stored_trip_raises_when_no_server_answers_in_time() -> None:
    # Nothing listens on port 9: the outcome stays unknown, which the caller answers as a 503.
    pool = await open_pool(
        "postgresql://tripgen@127.0.0.1:9/tripgen?connect_timeout=1", schema="trip_db", min_size=0
    )
    try:
        with pytest.raises((OperationalError, PoolTimeout)):
            await TripRepository(pool).stored_trip("00000000-0000-0000-0000-000000000000", 0.6)
    finally:
        await pool.close()

"""The AI benchmark's client against the real trip-service: it waits for the itinerary with the
route's long poll (one status request), and a generation that never ends is timed out, not
spun on."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from scenarios.bench.ai import _generate
from services.kit.queue import AI_SCHEDULE_QUEUE, QueuePort
from tests.trip.conftest import TripService, collect
from tests.trip.test_schedules_and_events import ITINERARY, publish_event

pytestmark = pytest.mark.integration


def _count_status_reads(client: httpx.AsyncClient) -> list[str]:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        if request.method == "GET" and "/schedules/" in request.url.path:
            seen.append(request.url.params.get("wait_s", ""))

    client.event_hooks["request"].append(hook)
    return seen


async def test_a_generation_is_timed_by_one_long_poll(
    service: TripService, queue: QueuePort
) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)

    async def ai_service() -> None:  # answers half a second after the request arrives
        [message] = await collect(
            queue, AI_SCHEDULE_QUEUE, lambda m: m.body["trip_id"] == trip["id"]
        )
        await asyncio.sleep(0.5)
        await publish_event(
            queue, "schedule.ready", trip["id"], message.message_id, itinerary=ITINERARY
        )

    reads = _count_status_reads(service.client)
    answering = asyncio.create_task(ai_service())
    generation = await _generate(service.client, auth, trip["id"], wait_s=8.0, deadline_s=10.0)
    await answering
    assert generation.ok and 500 <= generation.ms < 3000, generation
    assert reads == ["8.000"]  # one request, held until the itinerary was there


async def test_a_generation_that_never_ends_times_out_at_the_deadline(
    service: TripService,
) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    reads = _count_status_reads(service.client)
    generation = await _generate(service.client, auth, trip["id"], wait_s=0.4, deadline_s=1.0)
    assert generation.status == "timed out (pending)" and not generation.ok
    assert 1000 <= generation.ms < 2500
    assert 2 <= len(reads) <= 4  # waits of 0.4 s each, not a spin

"""The generation worker end to end: queue message → itinerary in ai_db → events and a
notification, against the real PostgreSQL, Redis Streams queue and location-service app."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

from services.ai.planner import Itinerary, Place, TripRequest, verify_itinerary
from services.ai.planning_input import city_centre
from services.kit.queue import (
    AI_SCHEDULE_QUEUE,
    NOTIFICATION_QUEUE,
    TRIP_EVENTS_TOPIC,
    dead_letter_queue_name,
)
from services.kit.trip_events import TRIP_SYNC_SUBSCRIPTION
from services.trip.events import parse_schedule_event
from services.trip.messages import schedule_request
from services.trip.repository import ScheduleRecord as TripScheduleRecord
from services.trip.repository import TripRecord
from services.trip.schemas import ScheduleStatus as TripScheduleStatus
from simulation.backing import BackingServices
from tests.ai.conftest import (
    AIService,
    events_of,
    eventually,
    generation_body,
    notifications_of,
)


def planner_input(request: dict[str, Any]) -> TripRequest:
    """The TripRequest an itinerary answers, rebuilt from the request for the checker."""
    start = date.fromisoformat(request["start_date"])
    days = (date.fromisoformat(request["end_date"]) - start).days + 1
    return TripRequest(
        start_date=start,
        days=days,
        lodging=request["lodging"],
        pace=request["pace"],
        must_visit=tuple(request["must_visit"]),
        mode=request["mode"],
    )


async def city_places(service: AIService, city: str = "Seoul") -> list[Place]:
    places = service.app.state.ai_resources.generator.places
    return await places.city_places(city)


async def test_a_message_becomes_a_verified_itinerary_with_events_and_a_notification(
    service: AIService,
) -> None:
    body = await service.request_schedule()
    schedule = await service.wait_for(body["schedule_id"])

    assert schedule["status"] == "done", schedule["error"]
    assert schedule["attempts"] == 1
    document = schedule["itinerary"]
    assert document["city"] == "Seoul"
    assert len(document["days"]) == 2
    visited = [v["place_id"] for d in document["days"] for v in d["visits"]]
    assert "seoul-gyeongbokgung" in visited
    # The stored itinerary passes the planner's independent checker against the real places.
    planner_fields = {k: v for k, v in document.items() if k in Itinerary.model_fields}
    planner_fields["days"] = [
        {k: v for k, v in d.items() if k != "narrative"} for d in document["days"]
    ]
    itinerary = Itinerary.model_validate(planner_fields)
    trip = planner_input(body["request"])
    verify_itinerary(itinerary, await city_places(service), trip)

    events = await events_of(service.queue, body["schedule_id"], count=2)
    assert [e["type"] for e in events] == ["schedule.running", "schedule.ready"]
    ready = events[1]
    assert ready["trip_id"] == body["trip_id"]
    assert ready["data"]["itinerary"]["request_hash"] == document["request_hash"]
    # trip-service's own consumer reads them as it should (the contract, from its side).
    parsed = [parse_schedule_event(e) for e in events]
    assert [p.status for p in parsed if p] == [
        TripScheduleStatus.RUNNING,
        TripScheduleStatus.DONE,
    ]
    assert parsed[1] is not None and parsed[1].itinerary == ready["data"]["itinerary"]

    [note] = await notifications_of(service.queue, body["schedule_id"])
    assert note.message_id == f"notify-{body['schedule_id']}"
    assert note.body["type"] == "schedule.ready"
    assert note.body["user_id"] == body["requested_by"]
    assert note.body["trip_id"] == body["trip_id"]
    assert await service.queue.queue_length(AI_SCHEDULE_QUEUE) == 0
    assert await service.queue.queue_length(NOTIFICATION_QUEUE) == 0


async def test_an_identical_request_is_served_from_the_cache_without_planning(
    service: AIService,
) -> None:
    first = await service.request_schedule()
    done = await service.wait_for(first["schedule_id"])
    assert service.metric("ai_planner_runs_total", outcome="ok") == 1

    # Another schedule of the same trip with the same request (list order and letter case of
    # the city do not make it different).
    again = await service.request_schedule(
        trip_id=first["trip_id"],
        user_id=first["requested_by"],
        city="seoul",
        preferred_categories=["food", "culture"],
    )
    cached = await service.wait_for(again["schedule_id"])

    assert cached["status"] == "done"
    assert cached["itinerary"] == done["itinerary"]
    assert service.metric("ai_planner_runs_total", outcome="ok") == 1  # not planned again
    assert service.metric("ai_messages_total", outcome="done-cached") == 1
    key = f"ai:schedule:{first['trip_id']}:{done['itinerary']['request_hash']}"
    redis = service.app.state.resources.redis
    ttl = await redis.ttl(key)
    assert 2 * 3600 - 60 < ttl <= 2 * 3600  # SPEC.md: AI results 2 h

    # A different request for the same trip is planned.
    other = await service.request_schedule(trip_id=first["trip_id"], pace="relaxed")
    assert (await service.wait_for(other["schedule_id"]))["status"] == "done"
    assert service.metric("ai_planner_runs_total", outcome="ok") == 2


async def test_a_redelivered_message_of_a_finished_schedule_is_just_completed(
    service: AIService,
) -> None:
    body = await service.request_schedule()
    done = await service.wait_for(body["schedule_id"])
    await events_of(service.queue, body["schedule_id"], count=2)  # drain running + ready
    await notifications_of(service.queue, body["schedule_id"])

    # The same message again (another message id gets past duplicate detection, as a
    # redelivery after a lost lock would).
    await service.request_schedule(
        schedule_id=body["schedule_id"],
        trip_id=body["trip_id"],
        user_id=body["requested_by"],
        message_id=f"{body['schedule_id']}-again",
    )

    async def duplicate_seen() -> bool:
        return service.metric("ai_messages_total", outcome="duplicate") == 1

    await eventually(duplicate_seen)
    after = await service.schedule(body["schedule_id"])
    assert after == done  # same attempts, same itinerary, same timestamps
    assert service.metric("ai_planner_runs_total", outcome="ok") == 1
    assert await service.queue.queue_length(AI_SCHEDULE_QUEUE) == 0
    # No second announcement.
    extra = await service.queue.receive(
        TRIP_EVENTS_TOPIC, 10, 0.3, subscription=TRIP_SYNC_SUBSCRIPTION
    )
    assert [m.body["type"] for m in extra] == []


async def test_a_must_visit_closed_on_every_trip_day_fails_with_the_reason(
    service: AIService,
) -> None:
    # Gyeongbokgung is closed on Tuesdays; a one-day trip on a Tuesday cannot include it.
    body = await service.request_schedule(start_date="2026-04-07", end_date="2026-04-07")
    schedule = await service.wait_for(body["schedule_id"])

    assert schedule["status"] == "failed"
    assert schedule["error_code"] == "must_visit_closed"
    assert "closed" in schedule["error"] and "seoul-gyeongbokgung" in schedule["error"]
    assert schedule["attempts"] == 1  # a request that cannot be planned is not retried
    events = await events_of(service.queue, body["schedule_id"], count=2)
    assert [e["type"] for e in events] == ["schedule.running", "schedule.failed"]
    assert events[1]["data"]["error"] == schedule["error"]
    parsed = parse_schedule_event(events[1])
    assert parsed is not None and parsed.error is not None
    assert schedule["error"] in parsed.error  # trip-service keeps the reason (and the code)
    [note] = await notifications_of(service.queue, body["schedule_id"])
    assert note.body["type"] == "schedule.failed"
    assert service.metric("ai_messages_total", outcome="failed") == 1


async def test_an_unknown_city_fails_with_the_reason(service: AIService) -> None:
    body = await service.request_schedule(city="Atlantis", must_visit=[])
    schedule = await service.wait_for(body["schedule_id"])
    assert schedule["status"] == "failed"
    assert schedule["error_code"] == "unknown_city"
    assert "Atlantis" in schedule["error"]


async def test_location_service_down_is_retried_and_the_next_delivery_succeeds(
    start_ai: Any,
) -> None:
    async with start_ai(retry_backoff_s=0.3) as service:
        service.location.refuse_next = 1
        body = await service.request_schedule()
        schedule = await service.wait_for(body["schedule_id"])

        assert schedule["status"] == "done"
        assert schedule["attempts"] == 2
        assert service.metric("ai_messages_total", outcome="abandoned") == 1
        assert await service.queue.dead_letter_count(AI_SCHEDULE_QUEUE) == 0


async def test_a_dependency_down_on_every_delivery_fails_the_schedule_and_dead_letters(
    service: AIService,
) -> None:
    service.location.down = True
    body = await service.request_schedule()
    schedule = await service.wait_for(body["schedule_id"])

    assert schedule["status"] == "failed"
    assert schedule["error_code"] == "retries_exhausted"
    assert "location-service" in schedule["error"]
    assert schedule["attempts"] == 3
    [dead] = await service.queue.receive(dead_letter_queue_name(AI_SCHEDULE_QUEUE), 10, 1.0)
    assert dead.message_id == body["schedule_id"]
    assert dead.dead_letter_reason == "RetriesExhausted"
    events = await events_of(service.queue, body["schedule_id"], count=2)
    assert [e["type"] for e in events] == ["schedule.running", "schedule.failed"]


async def test_poison_messages_end_in_the_dead_letter_queue_and_nothing_is_lost(
    service: AIService,
) -> None:
    """sent = completed + dead-lettered, and the worker keeps going."""
    queue = service.queue
    valid = [await service.request_schedule() for _ in range(2)]
    poison_ids = ["poison-not-a-request", "poison-bad-dates", "poison-not-json"]
    await queue.send(AI_SCHEDULE_QUEUE, {"hello": "world"}, message_id=poison_ids[0])
    bad_dates = generation_body(
        schedule_id=str(uuid.uuid4()),
        trip_id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        start_date="2026-04-05",
        end_date="2026-04-01",
    )
    await queue.send(
        AI_SCHEDULE_QUEUE, bad_dates, message_id=poison_ids[1], session_id=bad_dates["trip_id"]
    )
    # Bytes that are not JSON at all, as a foreign producer might write them.
    redis = service.app.state.resources.redis
    await redis.xadd(
        f"tripgen:queue:{{{AI_SCHEDULE_QUEUE}}}",
        {"mid": poison_ids[2], "body": b"\xff{not json", "t": "0"},
    )
    late = await service.request_schedule()  # after the poison: still handled

    finished = [await service.wait_for(b["schedule_id"]) for b in [*valid, late]]
    assert [s["status"] for s in finished] == ["done", "done", "done"]

    async def settled() -> bool:
        return await queue.dead_letter_count(AI_SCHEDULE_QUEUE) == 3

    await eventually(settled)
    dead = await queue.receive(dead_letter_queue_name(AI_SCHEDULE_QUEUE), 10, 1.0)
    reasons = {m.message_id: m.dead_letter_reason for m in dead}
    assert reasons == {
        poison_ids[0]: "InvalidScheduleRequest",
        poison_ids[1]: "InvalidScheduleRequest",
        poison_ids[2]: "MalformedBody",  # the queue port refuses non-JSON bodies itself
    }
    # The two JSON poison messages were delivered three times each before being dead-lettered.
    assert service.metric("ai_messages_total", outcome="invalid-abandoned") == 4
    assert service.metric("ai_messages_total", outcome="dead-lettered") == 2
    # Nothing left behind: 6 sent = 3 completed + 3 dead-lettered.
    assert await queue.queue_length(AI_SCHEDULE_QUEUE) == 0
    assert service.metric("ai_messages_total", outcome="done") == 3
    # The poison message whose ids were readable failed its schedule, so nobody waits for it.
    rejected = await service.wait_for(bad_dates["schedule_id"], ("failed",))
    assert rejected["error_code"] == "invalid_request"
    assert "end_date" in rejected["error"]


async def test_the_queue_length_gauge_follows_the_queue(start_ai: Any) -> None:
    async with start_ai(worker_concurrency=0) as service:  # an API-only replica
        for _ in range(3):
            await service.request_schedule()

        async def reported() -> bool:
            return service.metric("queue_length") == 3

        await eventually(reported)
        metrics = await service.client.get("/metrics")
        assert "\nqueue_length 3.0\n" in metrics.text


async def test_the_request_trip_service_builds_is_understood(service: AIService) -> None:
    """The producer side of the contract: trip-service's own message builder."""
    now = datetime.now(UTC)
    trip = TripRecord(
        id=str(uuid.uuid4()),
        owner_id=str(uuid.uuid4()),
        title="Spring in Seoul",
        destination_city="Seoul",
        start_date=date(2026, 4, 1),
        end_date=date(2026, 4, 1),
        travellers=2,
        budget="low",
        pace="relaxed",
        preferred_categories=["food"],
        must_visit=[],
        lodging_lat=None,
        lodging_lng=None,
        mode="walk",
        wishes="a quiet tea house",
        version=1,
        created_at=now,
        updated_at=now,
    )
    record = TripScheduleRecord(
        id=str(uuid.uuid4()),
        trip_id=trip.id,
        requested_by=trip.owner_id,
        status=TripScheduleStatus.PENDING,
        itinerary=None,
        error=None,
        requested_at=now,
        updated_at=now,
    )
    message = schedule_request(trip, record)
    await service.queue.send(
        message.entity, message.body, message_id=message.message_id, session_id=message.session_id
    )
    schedule = await service.wait_for(record.id)
    assert schedule["status"] == "done", schedule["error"]
    document = schedule["itinerary"]
    assert document["enrichment"]["wishes"] == "keywords"
    # Without a lodging the days start at the city centre (the median of its places).
    centre = city_centre(await city_places(service))
    first_leg = document["days"][0]["legs"][0]
    assert first_leg["from_id"] == "@lodging"
    assert centre.lat > 37.4


async def test_a_database_outage_is_retried_and_the_message_is_not_lost(
    start_ai: Any, backing: BackingServices
) -> None:
    async with start_ai(db_timeout_s=1.0, retry_backoff_s=2.0) as service:
        await asyncio.to_thread(backing.postgres.stop)
        try:
            body = await service.request_schedule()

            async def abandoned() -> bool:
                return service.metric("ai_messages_total", outcome="abandoned") >= 1

            await eventually(abandoned, timeout_s=20)
        finally:
            await asyncio.to_thread(backing.postgres.start)
        schedule = await service.wait_for(body["schedule_id"], timeout_s=30)

        assert schedule["status"] == "done"
        assert await service.queue.dead_letter_count(AI_SCHEDULE_QUEUE) == 0
        assert await service.queue.queue_length(AI_SCHEDULE_QUEUE) == 0
        events = await events_of(service.queue, body["schedule_id"], count=2)
        assert [e["type"] for e in events] == ["schedule.running", "schedule.ready"]

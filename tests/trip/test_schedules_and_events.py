"""Schedule requests through the outbox to the real Redis Streams queue, and the read model kept
current from `trip-events` (as ai-service would publish them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.kit.queue import AI_SCHEDULE_QUEUE, TRIP_EVENTS_TOPIC, QueuePort
from services.kit.trip_events import TRIP_SYNC_SUBSCRIPTION
from tests.trip.conftest import TripService, collect, eventually

pytestmark = pytest.mark.integration
ITINERARY = {
    "days": [{"date": "2026-04-01", "visits": [{"place_id": "seoul-gyeongbokgung"}]}],
    "totals": {"visits": 1},
}


async def publish_event(
    queue: QueuePort, event_type: str, trip_id: str, schedule_id: str, **data: Any
) -> str:
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "type": event_type,
        "trip_id": trip_id,
        "schedule_id": schedule_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": data,
    }
    await queue.publish(TRIP_EVENTS_TOPIC, body, message_id=event_id)
    return event_id


async def request_schedule(service: TripService, trip_id: str, auth: dict[str, str]) -> str:
    r = await service.client.post(f"/api/trips/{trip_id}/schedules", headers=auth)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending"
    assert r.headers["Location"] == f"/api/trips/{trip_id}/schedules/{body['schedule_id']}"
    return body["schedule_id"]


async def status_of(
    service: TripService, trip_id: str, schedule_id: str, auth: dict[str, str]
) -> dict[str, Any]:
    r = await service.client.get(f"/api/trips/{trip_id}/schedules/{schedule_id}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_schedule_request_reaches_the_ai_queue_with_the_trip_snapshot(
    service: TripService, queue: QueuePort
) -> None:
    owner_id, auth = service.user()
    trip = await service.create_trip(auth)
    schedule_id = await request_schedule(service, trip["id"], auth)

    [message] = await collect(queue, AI_SCHEDULE_QUEUE, lambda m: m.message_id == schedule_id)
    assert message.session_id == trip["id"]
    body = message.body
    assert body["schedule_id"] == schedule_id and body["trip_id"] == trip["id"]
    assert body["requested_by"] == owner_id
    assert datetime.fromisoformat(body["requested_at"]).tzinfo is not None
    assert body["request"] == {
        "city": "Seoul",
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

    [event] = await collect(
        queue,
        TRIP_EVENTS_TOPIC,
        lambda m: m.body.get("schedule_id") == schedule_id,
        subscription="audit",
    )
    assert event.body["type"] == "schedule.requested" and event.body["trip_id"] == trip["id"]
    assert event.message_id == event.body["event_id"]
    assert event.body["data"]["requested_by"] == owner_id

    pending = await status_of(service, trip["id"], schedule_id, auth)
    assert pending["status"] == "pending" and pending["itinerary"] is None
    assert pending["error"] is None and pending["trip_id"] == trip["id"]


async def test_the_snapshot_is_the_trip_as_it_was_when_requested(
    service: TripService, queue: QueuePort
) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    await service.client.patch(
        f"/api/trips/{trip['id']}",
        json={"destination_city": "Busan", "must_visit": []},
        headers=auth,
    )
    schedule_id = await request_schedule(service, trip["id"], auth)
    [message] = await collect(queue, AI_SCHEDULE_QUEUE, lambda m: m.message_id == schedule_id)
    assert message.body["request"]["city"] == "Busan"
    assert message.body["request"]["must_visit"] == []


async def test_events_from_the_ai_service_move_the_schedule_to_done(
    service: TripService, queue: QueuePort
) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    schedule_id = await request_schedule(service, trip["id"], auth)

    await publish_event(queue, "schedule.running", trip["id"], schedule_id)

    async def running() -> bool:
        return (await status_of(service, trip["id"], schedule_id, auth))["status"] == "running"

    await eventually(running)
    await publish_event(queue, "schedule.ready", trip["id"], schedule_id, itinerary=ITINERARY)

    async def done() -> bool:
        return (await status_of(service, trip["id"], schedule_id, auth))["status"] == "done"

    await eventually(done)
    result = await status_of(service, trip["id"], schedule_id, auth)
    assert result["itinerary"] == ITINERARY and result["error"] is None
    assert result["updated_at"] >= result["requested_at"]

    # Re-deliveries and stale events change nothing (the read model only moves forward).
    await publish_event(queue, "schedule.running", trip["id"], schedule_id)
    await publish_event(queue, "schedule.failed", trip["id"], schedule_id, error="late")
    await publish_event(queue, "schedule.ready", trip["id"], schedule_id, itinerary={"days": []})

    async def all_handled() -> bool:
        text = (await service.client.get("/metrics")).text
        return 'trip_sync_events_total{outcome="unchanged",type="schedule.ready"} 1.0' in text

    await eventually(all_handled)
    assert await status_of(service, trip["id"], schedule_id, auth) == result

    listed = (await service.client.get(f"/api/trips/{trip['id']}/schedules", headers=auth)).json()
    assert listed["total"] == 1 and listed["items"][0]["status"] == "done"
    assert "itinerary" not in listed["items"][0]


async def test_a_failed_generation_shows_its_error(service: TripService, queue: QueuePort) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    schedule_id = await request_schedule(service, trip["id"], auth)
    await publish_event(queue, "schedule.failed", trip["id"], schedule_id, error="no places open")

    async def failed() -> bool:
        return (await status_of(service, trip["id"], schedule_id, auth))["status"] == "failed"

    await eventually(failed)
    result = await status_of(service, trip["id"], schedule_id, auth)
    assert result["error"] == "no places open" and result["itinerary"] is None


async def test_a_malformed_event_goes_to_the_dead_letter_queue(
    service: TripService, queue: QueuePort
) -> None:
    before = await queue.dead_letter_count(TRIP_EVENTS_TOPIC, subscription=TRIP_SYNC_SUBSCRIPTION)
    await publish_event(queue, "schedule.ready", str(uuid.uuid4()), "not-a-uuid", itinerary={})
    await publish_event(queue, "schedule.ready", str(uuid.uuid4()), str(uuid.uuid4()))  # none

    async def dead_lettered() -> bool:
        count = await queue.dead_letter_count(
            TRIP_EVENTS_TOPIC, subscription=TRIP_SYNC_SUBSCRIPTION
        )
        return count == before + 2

    await eventually(dead_lettered)
    # The consumer carries on.
    _, auth = service.user()
    trip = await service.create_trip(auth)
    schedule_id = await request_schedule(service, trip["id"], auth)
    await publish_event(queue, "schedule.running", trip["id"], schedule_id)

    async def running() -> bool:
        return (await status_of(service, trip["id"], schedule_id, auth))["status"] == "running"

    await eventually(running)


async def test_trip_events_are_published_in_order(service: TripService, queue: QueuePort) -> None:
    owner_id, auth = service.user()
    member_id, _ = service.user()
    trip = await service.create_trip(auth)
    await service.client.patch(f"/api/trips/{trip['id']}", json={"travellers": 3}, headers=auth)
    await service.share(trip["id"], auth, member_id, "viewer")
    await service.client.delete(f"/api/trips/{trip['id']}", headers=auth)

    events = await collect(
        queue,
        TRIP_EVENTS_TOPIC,
        lambda m: m.body.get("trip_id") == trip["id"],
        count=4,
        subscription="analytics",
    )
    assert [e.body["type"] for e in events] == [
        "trip.created",
        "trip.updated",
        "trip.updated",
        "trip.deleted",
    ]
    created, updated, shared, deleted = (e.body for e in events)
    assert created["data"]["owner_id"] == owner_id and created["data"]["title"] == trip["title"]
    assert created["data"]["lodging"] == trip["lodging"]
    assert created["schedule_id"] is None
    assert updated["data"]["changes"] == {"travellers": 3} and updated["data"]["version"] == 2
    assert shared["data"]["member_set"] == {"user_id": member_id, "role": "viewer"}
    assert deleted["data"]["deleted_by"] == owner_id
    assert len({e.body["event_id"] for e in events}) == 4


async def test_schedule_lookups_stay_within_the_trip(service: TripService) -> None:
    _, auth = service.user()
    first = await service.create_trip(auth)
    second = await service.create_trip(auth)
    schedule_id = await request_schedule(service, first["id"], auth)
    other = f"/api/trips/{second['id']}/schedules/{schedule_id}"
    answer = await service.client.get(other, headers=auth)
    assert (answer.status_code, answer.json()["detail"]) == (
        404,
        f"no schedule {schedule_id} for this trip",
    )
    unknown = f"/api/trips/{first['id']}/schedules/{uuid.uuid4()}"
    assert (await service.client.get(unknown, headers=auth)).status_code == 404
    _, stranger = service.user()  # the schedule exists, the trip is not theirs: no trip at all
    answer = await service.client.get(
        f"/api/trips/{first['id']}/schedules/{schedule_id}", headers=stranger
    )
    assert (answer.status_code, answer.json()["detail"]) == (404, f"no trip {first['id']}")
    viewer_id, viewer = service.user()
    await service.share(first["id"], auth, viewer_id, "viewer")
    answer = await service.client.get(
        f"/api/trips/{first['id']}/schedules/{schedule_id}", headers=viewer
    )
    assert (answer.status_code, answer.json()["schedule_id"]) == (200, schedule_id)
    malformed = f"/api/trips/{first['id']}/schedules/nope"
    assert (await service.client.get(malformed, headers=auth)).status_code == 422


async def test_schedules_are_listed_newest_first_and_paged(service: TripService) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    ids = [await request_schedule(service, trip["id"], auth) for _ in range(3)]
    url = f"/api/trips/{trip['id']}/schedules"
    page = (await service.client.get(f"{url}?size=2", headers=auth)).json()
    rest = (await service.client.get(f"{url}?size=2&page=2", headers=auth)).json()
    assert page["total"] == 3
    assert [s["schedule_id"] for s in page["items"] + rest["items"]] == ids[::-1]
    assert (await service.client.get(f"{url}?size=500", headers=auth)).status_code == 422


async def test_a_deleted_trip_takes_its_schedules_and_late_events_are_harmless(
    service: TripService, queue: QueuePort
) -> None:
    _, auth = service.user()
    trip = await service.create_trip(auth)
    schedule_id = await request_schedule(service, trip["id"], auth)
    assert (
        await service.client.delete(f"/api/trips/{trip['id']}", headers=auth)
    ).status_code == 204
    url = f"/api/trips/{trip['id']}/schedules/{schedule_id}"
    assert (await service.client.get(url, headers=auth)).status_code == 404
    series = 'trip_sync_events_total{outcome="unchanged",type="schedule.ready"} '

    async def unchanged_count() -> float:
        # The metrics registry is the process's: other tests may have counted before this one.
        text = (await service.client.get("/metrics")).text
        return next(
            (float(line[len(series) :]) for line in text.splitlines() if line.startswith(series)),
            0.0,
        )

    before = await unchanged_count()
    await publish_event(queue, "schedule.ready", trip["id"], schedule_id, itinerary=ITINERARY)

    async def handled() -> bool:
        return await unchanged_count() == before + 1

    await eventually(handled)

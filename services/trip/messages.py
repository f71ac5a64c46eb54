"""The bodies trip-service sends, as docs/contracts.md › Messages pins them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from services.kit.outbox import OutboxMessage
from services.kit.queue import AI_SCHEDULE_QUEUE, TRIP_EVENTS_TOPIC
from services.trip.repository import ScheduleRecord, TripRecord

# trip-service's own subscription of `trip-events`: it keeps the schedule read model current.
TRIP_SYNC_SUBSCRIPTION = "trip-sync"


class EventType(StrEnum):
    TRIP_CREATED = "trip.created"
    TRIP_UPDATED = "trip.updated"
    TRIP_DELETED = "trip.deleted"
    SCHEDULE_REQUESTED = "schedule.requested"
    SCHEDULE_RUNNING = "schedule.running"
    SCHEDULE_READY = "schedule.ready"
    SCHEDULE_FAILED = "schedule.failed"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def trip_event(
    event_type: EventType,
    trip_id: str,
    data: dict[str, Any],
    *,
    schedule_id: str | None = None,
) -> OutboxMessage:
    """An event for topic `trip-events`; its id doubles as the message id."""
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "type": event_type.value,
        "trip_id": trip_id,
        "schedule_id": schedule_id,
        "occurred_at": _now(),
        "data": data,
    }
    return OutboxMessage("topic", TRIP_EVENTS_TOPIC, event_id, body)


def schedule_request(trip: TripRecord, schedule: ScheduleRecord) -> OutboxMessage:
    """The generation request for the AI worker, carrying the whole trip so it needs no call back.

    message_id = schedule_id (duplicate detection drops a relay's re-send); session_id = trip_id
    (requests for one trip are handled in order).
    """
    body = {
        "schedule_id": schedule.id,
        "trip_id": trip.id,
        "requested_by": schedule.requested_by,
        "requested_at": schedule.requested_at.isoformat(),
        "request": {
            "city": trip.destination_city,
            "start_date": trip.start_date.isoformat(),
            "end_date": trip.end_date.isoformat(),
            "travellers": trip.travellers,
            "budget": trip.budget,
            "pace": trip.pace,
            "preferred_categories": list(trip.preferred_categories),
            "must_visit": list(trip.must_visit),
            "lodging": trip.lodging,
            "mode": trip.mode,
            "wishes": trip.wishes,
        },
    }
    return OutboxMessage("queue", AI_SCHEDULE_QUEUE, schedule.id, body, session_id=trip.id)


def schedule_requested(trip: TripRecord, schedule: ScheduleRecord) -> OutboxMessage:
    return trip_event(
        EventType.SCHEDULE_REQUESTED,
        trip.id,
        {
            "requested_by": schedule.requested_by,
            "requested_at": schedule.requested_at.isoformat(),
            "trip_version": trip.version,
        },
        schedule_id=schedule.id,
    )

"""The message format of topic `trip-events`, as docs/contracts.md › Messages pins it.

trip-service publishes trip and schedule-request events and reads the schedule events back on its
`trip-sync` subscription; ai-service publishes the schedule events. Both build the same envelope
here, so the two writers and the reader cannot drift apart:

    {event_id, type, trip_id, schedule_id or null, occurred_at, data}
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from services.kit.outbox import OutboxMessage
from services.kit.queue import TRIP_EVENTS_TOPIC, TRIP_SYNC_SUBSCRIPTION

__all__ = ["TRIP_SYNC_SUBSCRIPTION", "EventType", "trip_event", "utc_timestamp"]


class EventType(StrEnum):
    TRIP_CREATED = "trip.created"
    TRIP_UPDATED = "trip.updated"
    TRIP_DELETED = "trip.deleted"
    SCHEDULE_REQUESTED = "schedule.requested"
    SCHEDULE_RUNNING = "schedule.running"
    SCHEDULE_READY = "schedule.ready"
    SCHEDULE_FAILED = "schedule.failed"


def utc_timestamp() -> str:
    """Now, as the ISO 8601 UTC string every message's `occurred_at` carries."""
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
        "occurred_at": utc_timestamp(),
        "data": data,
    }
    return OutboxMessage("topic", TRIP_EVENTS_TOPIC, event_id, body)

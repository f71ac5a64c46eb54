"""The bodies ai-service sends, as docs/contracts.md › Messages pins them.

Schedule events go to topic `trip-events` in the shared envelope (services.kit.trip_events):
trip-service's `trip-sync` subscription reads `data.itinerary` of `schedule.ready` and
`data.error` of `schedule.failed`. A notification goes to queue `notification` with message id
`notify-<schedule_id>`.
"""

from __future__ import annotations

from typing import Any

from services.kit.outbox import OutboxMessage
from services.kit.queue import NOTIFICATION_QUEUE
from services.kit.trip_events import EventType, trip_event, utc_timestamp


def schedule_event(
    event_type: EventType, trip_id: str, schedule_id: str, data: dict[str, Any]
) -> OutboxMessage:
    """A schedule's event for topic `trip-events`."""
    return trip_event(event_type, trip_id, data, schedule_id=schedule_id)


def schedule_running(trip_id: str, schedule_id: str, attempt: int) -> OutboxMessage:
    return schedule_event(EventType.SCHEDULE_RUNNING, trip_id, schedule_id, {"attempt": attempt})


def schedule_ready(
    trip_id: str, schedule_id: str, user_id: str, itinerary: dict[str, Any]
) -> list[OutboxMessage]:
    return [
        schedule_event(EventType.SCHEDULE_READY, trip_id, schedule_id, {"itinerary": itinerary}),
        notification(EventType.SCHEDULE_READY, user_id, trip_id, schedule_id),
    ]


def schedule_failed(
    trip_id: str, schedule_id: str, user_id: str, error: str, code: str
) -> list[OutboxMessage]:
    return [
        schedule_event(
            EventType.SCHEDULE_FAILED, trip_id, schedule_id, {"error": error, "code": code}
        ),
        notification(EventType.SCHEDULE_FAILED, user_id, trip_id, schedule_id),
    ]


def notification(
    event_type: EventType, user_id: str, trip_id: str, schedule_id: str
) -> OutboxMessage:
    body = {
        "type": event_type.value,
        "user_id": user_id,
        "trip_id": trip_id,
        "schedule_id": schedule_id,
        "occurred_at": utc_timestamp(),
    }
    return OutboxMessage("queue", NOTIFICATION_QUEUE, f"notify-{schedule_id}", body)

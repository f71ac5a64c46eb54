"""The bodies ai-service sends, as docs/contracts.md › Messages pins them, and its topology.

Events go to topic `trip-events` (trip-service's `trip-sync` subscription reads `data.itinerary`
of `schedule.ready` and `data.error` of `schedule.failed`); a notification goes to queue
`notification` with message id `notify-<schedule_id>`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from services.kit.outbox import OutboxMessage
from services.kit.queue import DEFAULT_TOPICS, NOTIFICATION_QUEUE, TRIP_EVENTS_TOPIC

# contracts.md names trip-service's `trip-sync` among the subscribers of `trip-events`, but the
# kit's DEFAULT_TOPICS (audit, monitoring, analytics) does not declare it. On Redis Streams a
# publish creates the consumer groups it knows, so this service declares `trip-sync` too: then
# its events are kept for trip-service even if that service has not started yet.
TRIP_SYNC_SUBSCRIPTION = "trip-sync"


class EventType(StrEnum):
    SCHEDULE_RUNNING = "schedule.running"
    SCHEDULE_READY = "schedule.ready"
    SCHEDULE_FAILED = "schedule.failed"


def ai_topics() -> dict[str, tuple[str, ...]]:
    topics: Mapping[str, Collection[str]] = DEFAULT_TOPICS
    merged = {topic: tuple(subs) for topic, subs in topics.items()}
    subscriptions = merged.get(TRIP_EVENTS_TOPIC, ())
    if TRIP_SYNC_SUBSCRIPTION not in subscriptions:
        merged[TRIP_EVENTS_TOPIC] = (*subscriptions, TRIP_SYNC_SUBSCRIPTION)
    return merged


def _now() -> str:
    return datetime.now(UTC).isoformat()


def schedule_event(
    event_type: EventType, trip_id: str, schedule_id: str, data: dict[str, Any]
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
        "occurred_at": _now(),
    }
    return OutboxMessage("queue", NOTIFICATION_QUEUE, f"notify-{schedule_id}", body)

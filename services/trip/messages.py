"""The bodies trip-service sends, as docs/contracts.md › Messages pins them.

Trip events use the shared `trip-events` envelope (services.kit.trip_events); the generation
request for ai-service is this service's own.
"""

from __future__ import annotations

from services.kit.outbox import OutboxMessage
from services.kit.queue import AI_SCHEDULE_QUEUE
from services.kit.trip_events import EventType, trip_event
from services.trip.repository import ScheduleRecord, TripRecord


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

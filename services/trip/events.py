"""The schedule read model: consumes the `trip-sync` subscription of topic `trip-events`.

ai-service publishes `schedule.running|ready|failed`; this consumer moves the schedule row
forward (status, itinerary, error) and completes the message. Re-delivery is harmless: a
schedule only ever moves forward, so an event seen twice (or a late `running` after `ready`)
changes nothing. A database outage abandons the message (after a pause, so a short outage does
not use up its deliveries) and it comes back; a malformed event goes to the dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

from psycopg import OperationalError
from psycopg_pool import PoolTimeout

from services.kit.background import stop_tasks
from services.kit.metrics import ServiceMetrics
from services.kit.queue import (
    MALFORMED_BODY_REASON,
    TRIP_EVENTS_TOPIC,
    MessageLockLostError,
    QueueError,
    QueuePort,
    QueueUnavailableError,
    ReceivedMessage,
)
from services.kit.trip_events import TRIP_SYNC_SUBSCRIPTION, EventType
from services.trip.repository import TripRepository
from services.trip.schemas import ScheduleStatus

log = logging.getLogger(__name__)
_STATUS_OF = {
    EventType.SCHEDULE_RUNNING: ScheduleStatus.RUNNING,
    EventType.SCHEDULE_READY: ScheduleStatus.DONE,
    EventType.SCHEDULE_FAILED: ScheduleStatus.FAILED,
}
_KNOWN_TYPES = frozenset(t.value for t in EventType)
_ERROR_KEYS = ("error", "reason", "message", "detail")
_UNAVAILABLE_PAUSE_S = 1.0
_MISCONFIGURED_PAUSE_S = 10.0


class MalformedEvent(ValueError):
    """The body is not a schedule event this consumer can apply."""


@dataclass(frozen=True)
class ScheduleEvent:
    type: EventType
    schedule_id: str
    itinerary: dict[str, Any] | None
    error: str | None

    @property
    def status(self) -> ScheduleStatus:
        return _STATUS_OF[self.type]


def parse_schedule_event(body: dict[str, Any]) -> ScheduleEvent | None:
    """The schedule event in a `trip-events` body; None for events this consumer ignores."""
    try:
        event_type = EventType(str(body.get("type")))
    except ValueError as exc:
        raise MalformedEvent(f"unknown event type {body.get('type')!r}") from exc
    if event_type not in _STATUS_OF:
        # trip.* and schedule.requested: trip-service wrote those itself. The subscription's rule
        # keeps them away; a Service Bus namespace without the rule still delivers them.
        return None
    try:
        schedule_id = str(uuid.UUID(str(body.get("schedule_id"))))
    except ValueError as exc:
        raise MalformedEvent(f"schedule_id {body.get('schedule_id')!r} is not a UUID") from exc
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise MalformedEvent("data is not an object")
    itinerary = data.get("itinerary")
    if event_type is EventType.SCHEDULE_READY and not isinstance(itinerary, dict):
        raise MalformedEvent("schedule.ready carries no itinerary object in data.itinerary")
    error = None
    if event_type is EventType.SCHEDULE_FAILED:
        error = next((str(data[k]) for k in _ERROR_KEYS if data.get(k)), "generation failed")
        if isinstance(data.get("code"), str) and data["code"]:
            # Keep ai-service's machine-readable reason: "[must_visit_closed] Gyeongbokgung …".
            error = f"[{data['code']}] {error}"
    if event_type is not EventType.SCHEDULE_READY:
        itinerary = None
    return ScheduleEvent(event_type, schedule_id, itinerary, error)


def _type_label(body: dict[str, Any]) -> str:
    """The event type as a metric label; anything unknown shares one label (bounded series)."""
    value = body.get("type")
    return value if isinstance(value, str) and value in _KNOWN_TYPES else "unknown"


class ScheduleEventConsumer:
    def __init__(
        self,
        repo: TripRepository,
        queue: QueuePort,
        metrics: ServiceMetrics,
        *,
        concurrency: int,
        receive_max: int,
        receive_wait_s: float,
    ) -> None:
        self.repo = repo
        self.queue = queue
        self.concurrency = concurrency
        self.receive_max = receive_max
        self.receive_wait_s = receive_wait_s
        self._stopping = False
        self._broker_down = False
        self.handled = metrics.counter(
            "trip_sync_events_total",
            "trip-events messages handled by the trip-sync consumer",
            ("type", "outcome"),
        )

    async def handle(self, message: ReceivedMessage) -> str:
        """Apply one message and settle it; returns the outcome (also counted in metrics)."""
        event_type = _type_label(message.body)
        try:
            event = parse_schedule_event(message.body)
        except MalformedEvent as exc:
            log.warning("dead-lettering trip event %s: %s", message.message_id, exc)
            await self._settle(self.queue.dead_letter(message, MALFORMED_BODY_REASON, str(exc)))
            return self._count(event_type, "dead-lettered")
        if event is None:
            await self._settle(self.queue.complete(message))
            return self._count(event_type, "ignored")
        try:
            moved = await self.repo.advance_schedule(
                event.schedule_id, event.status, itinerary=event.itinerary, error=event.error
            )
        except (OperationalError, PoolTimeout) as exc:
            log.warning("database unavailable for %s, abandoning it: %r", message.message_id, exc)
            await asyncio.sleep(_UNAVAILABLE_PAUSE_S)
            await self._settle(self.queue.abandon(message))
            return self._count(event_type, "abandoned")
        await self._settle(self.queue.complete(message))
        # `unchanged`: a re-delivery, an older event after a newer one, or a deleted trip.
        return self._count(event_type, "applied" if moved else "unchanged")

    async def _settle(self, settling: Awaitable[None]) -> None:
        try:
            await settling
        except MessageLockLostError as exc:  # redelivered elsewhere; that delivery settles it
            log.info("%s", exc)
        except QueueUnavailableError as exc:  # the lock expires and the message comes back
            log.warning("could not settle a trip event: %s", exc)

    def _count(self, event_type: str, outcome: str) -> str:
        self.handled.labels(event_type, outcome).inc()
        return outcome

    async def consume(self) -> None:
        """Receive and handle until stopped; broker outages only pause it."""
        while not self._stopping:
            try:
                messages = await self.queue.receive(
                    TRIP_EVENTS_TOPIC,
                    self.receive_max,
                    self.receive_wait_s,
                    subscription=TRIP_SYNC_SUBSCRIPTION,
                )
            except QueueUnavailableError as exc:
                if not self._broker_down:  # one warning per outage and task
                    log.warning("trip-sync consumer paused: %s", exc)
                self._broker_down = True
                await asyncio.sleep(_UNAVAILABLE_PAUSE_S)
                continue
            except QueueError as exc:  # e.g. the subscription is not declared: say so, loudly
                log.error("trip-sync consumer cannot receive: %s", exc)
                await asyncio.sleep(_MISCONFIGURED_PAUSE_S)
                continue
            if self._broker_down:
                log.info("trip-sync consumer resumed")
                self._broker_down = False
            for message in messages:
                try:
                    await self.handle(message)
                except Exception:  # a bug must not end the consumer; the message comes back
                    log.exception("trip event %s could not be handled", message.message_id)
                    await self._settle(self.queue.abandon(message))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ScheduleEventConsumer]:
        tasks = [
            asyncio.create_task(self.consume(), name=f"trip-sync-consumer-{n}")
            for n in range(self.concurrency)
        ]
        try:
            yield self
        finally:
            self._stopping = True
            await stop_tasks(tasks)

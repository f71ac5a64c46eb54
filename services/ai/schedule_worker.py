"""The `ai-schedule-generation` consumer (`python -m services.ai.worker` runs it without HTTP).

Per message (message_id = schedule_id, session = trip_id, so one trip's requests go in order):

1. The body must be a generation request. If not (a poison message), it is abandoned, and on
   its last delivery (the queue's max delivery count, 3) dead-lettered with the reason: never
   a crash, never a loop. If its ids are readable, the schedule is marked failed too.
2. Claim the schedule: create it as running (with a `schedule.running` event in the outbox), or
   count another attempt. A schedule already done or failed means a redelivery: complete it;
   its events are in the outbox already.
3. Generate (cache → places → planner → LLM). A request that cannot be planned fails the
   schedule with the reason (`schedule.failed` + a notification) and completes the message. A
   transient failure (location-service or database down, a planner process lost) gives the
   message back after a pause; on the last delivery the schedule is failed and the message
   dead-lettered, so nobody waits for it forever.
4. Store the itinerary with `schedule.ready` + a notification in one transaction (the outbox
   relay publishes them), then complete the message.

Accounting: every received message ends completed, abandoned (and so received again) or
dead-lettered; the queue port dead-letters what is abandoned on its last delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from psycopg import Error as DatabaseError
from psycopg_pool import PoolTimeout
from pydantic import ValidationError

from services.ai.errors import GenerationError, GenerationRefused, GenerationUnavailable
from services.ai.generation import PlanningOptions, ScheduleGenerator
from services.ai.messages import schedule_failed, schedule_ready, schedule_running
from services.ai.planning_input import request_hash
from services.ai.repository import NewSchedule, ScheduleRepository
from services.ai.schemas import GenerationMessage
from services.ai.settings import AISettings
from services.kit import background
from services.kit.metrics import ServiceMetrics
from services.kit.outbox import OutboxRelay
from services.kit.queue import (
    AI_SCHEDULE_QUEUE,
    MessageLockLostError,
    QueueError,
    QueuePort,
    QueueUnavailableError,
    ReceivedMessage,
)

log = logging.getLogger(__name__)
_DATABASE_ERRORS = (DatabaseError, PoolTimeout)
_UNAVAILABLE_PAUSE_S = 1.0
_MISCONFIGURED_PAUSE_S = 10.0
# On shutdown, generations under way get this long to finish before they are given back.
SHUTDOWN_GRACE_S = 8.0
INVALID_REQUEST_REASON = "InvalidScheduleRequest"
RETRIES_EXHAUSTED_REASON = "RetriesExhausted"


class ScheduleWorker:
    def __init__(
        self,
        *,
        queue: QueuePort,
        repo: ScheduleRepository,
        generator: ScheduleGenerator,
        relay: OutboxRelay,
        metrics: ServiceMetrics,
        settings: AISettings,
    ) -> None:
        self.queue = queue
        self.repo = repo
        self.generator = generator
        self.relay = relay
        self.settings = settings
        self.options = PlanningOptions(
            time_limit_s=settings.planner_time_limit_s,
            review_prior_weight=settings.review_prior_weight,
        )
        self.handled = metrics.counter(
            "ai_messages_total", f"{AI_SCHEDULE_QUEUE} messages handled, by outcome", ("outcome",)
        )
        self._stopping = False

    # -- one message --------------------------------------------------------------------------

    async def handle(self, message: ReceivedMessage) -> str:
        """Handle one message and settle it; returns the outcome (also counted in metrics)."""
        try:
            job = GenerationMessage.model_validate(message.body)
        except ValidationError as exc:
            return await self._reject(message, _describe(exc))
        schedule = NewSchedule(
            id=str(job.schedule_id),
            trip_id=str(job.trip_id),
            requested_by=str(job.requested_by),
            request=job.request.model_dump(mode="json"),
            request_hash=request_hash(job.request),
            requested_at=job.requested_at,
        )
        try:
            claim = await self.repo.claim(
                schedule,
                [schedule_running(schedule.trip_id, schedule.id, message.delivery_count)],
            )
        except _DATABASE_ERRORS as exc:
            return await self._retry(message, schedule, _database_down(exc))
        if not claim.started:
            await self._settle(self.queue.complete(message))
            return self._count("duplicate")
        if claim.first:
            self.relay.wake()

        try:
            generated = await self.generator.generate(
                job.request, cache_scope=schedule.trip_id, options=self.options
            )
        except GenerationRefused as exc:
            return await self._fail(message, schedule, exc)
        except GenerationError as exc:
            return await self._retry(message, schedule, exc)
        except _DATABASE_ERRORS as exc:
            return await self._retry(message, schedule, _database_down(exc))

        try:
            await self.repo.finish_done(
                schedule.id,
                generated.itinerary,
                schedule_ready(
                    schedule.trip_id, schedule.id, schedule.requested_by, generated.itinerary
                ),
            )
        except _DATABASE_ERRORS as exc:  # the result is cached: the retry is quick
            return await self._retry(message, schedule, _database_down(exc))
        self.relay.wake()
        await self._settle(self.queue.complete(message))
        return self._count("done-cached" if generated.cached else "done")

    async def _fail(
        self, message: ReceivedMessage, schedule: NewSchedule, error: GenerationRefused
    ) -> str:
        """The request cannot be planned: say why, once, and do not retry."""
        try:
            await self.repo.finish_failed(
                schedule.id,
                error.reason,
                error.code,
                schedule_failed(
                    schedule.trip_id, schedule.id, schedule.requested_by, error.reason, error.code
                ),
            )
        except _DATABASE_ERRORS as exc:
            return await self._retry(message, schedule, _database_down(exc))
        self.relay.wake()
        await self._settle(self.queue.complete(message))
        return self._count("failed")

    async def _retry(
        self, message: ReceivedMessage, schedule: NewSchedule, error: GenerationError
    ) -> str:
        """A transient failure: give the message back after a pause, or give up on it."""
        log.warning(
            "schedule %s, delivery %d: %s", schedule.id, message.delivery_count, error.reason
        )
        if message.delivery_count < self.settings.max_delivery_count:
            await asyncio.sleep(self.settings.retry_backoff_s * message.delivery_count)
            await self._settle(self.queue.abandon(message))
            return self._count("abandoned")
        reason = f"gave up after {message.delivery_count} attempts: {error.reason}"
        await self._record_rejected(schedule, reason, "retries_exhausted")
        await self._settle(self.queue.dead_letter(message, RETRIES_EXHAUSTED_REASON, reason))
        return self._count("dead-lettered")

    async def _reject(self, message: ReceivedMessage, problem: str) -> str:
        """A body that is not a generation request: retried like any failure (three attempts,
        the queue's max delivery count), then dead-lettered with the reason."""
        log.warning(
            "invalid message %s (delivery %d): %s",
            message.message_id,
            message.delivery_count,
            problem,
        )
        if message.delivery_count < self.settings.max_delivery_count:
            await self._settle(self.queue.abandon(message))
            return self._count("invalid-abandoned")
        schedule = _readable_schedule(message.body)
        if schedule is not None:
            await self._record_rejected(
                schedule, f"the schedule request is invalid: {problem}", "invalid_request"
            )
        await self._settle(self.queue.dead_letter(message, INVALID_REQUEST_REASON, problem))
        return self._count("dead-lettered")

    async def _record_rejected(self, schedule: NewSchedule, reason: str, code: str) -> None:
        try:
            moved = await self.repo.record_rejected(
                schedule,
                reason,
                code,
                schedule_failed(schedule.trip_id, schedule.id, schedule.requested_by, reason, code),
            )
        except _DATABASE_ERRORS as exc:  # the dead-letter queue still has the message
            log.warning("could not mark schedule %s failed: %r", schedule.id, exc)
            return
        if moved:
            self.relay.wake()

    async def _settle(self, settling: Awaitable[None]) -> None:
        try:
            await settling
        except MessageLockLostError as exc:  # redelivered elsewhere; that delivery settles it
            log.info("%s", exc)
        except QueueUnavailableError as exc:  # the lock expires and the message comes back
            log.warning("could not settle a generation message: %s", exc)

    def _count(self, outcome: str) -> str:
        self.handled.labels(outcome).inc()
        return outcome

    # -- the loop -----------------------------------------------------------------------------

    async def consume(self) -> None:
        """Receive and handle until stopped; broker outages and bugs only pause it."""
        while not self._stopping:
            try:
                messages = await self.queue.receive(
                    AI_SCHEDULE_QUEUE, 1, self.settings.worker_receive_wait_s
                )
            except QueueUnavailableError as exc:
                log.warning("ai worker paused: %s", exc)
                await asyncio.sleep(_UNAVAILABLE_PAUSE_S)
                continue
            except QueueError as exc:  # misconfiguration: say so, loudly, and keep trying
                log.error("ai worker cannot receive: %s", exc)
                await asyncio.sleep(_MISCONFIGURED_PAUSE_S)
                continue
            for message in messages:
                await self._handle_safely(message)

    async def _handle_safely(self, message: ReceivedMessage) -> None:
        try:
            await self.handle(message)
        except asyncio.CancelledError:
            # Shutting down mid-generation: give the message back now rather than when its
            # lock expires, so another replica picks it up at once.
            with contextlib.suppress(Exception):
                await asyncio.shield(self.queue.abandon(message))
            raise
        except Exception:  # a bug must not end the worker; the message comes back
            log.exception("generation message %s could not be handled", message.message_id)
            self._count("error")
            await self._settle(self.queue.abandon(message))

    @contextlib.asynccontextmanager
    async def running(self, concurrency: int) -> AsyncIterator[ScheduleWorker]:
        self._stopping = False
        tasks = [
            asyncio.create_task(self.consume(), name=f"ai-worker-{n}") for n in range(concurrency)
        ]
        try:
            yield self
        finally:
            self._stopping = True  # no new messages; let the ones under way finish
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
                await asyncio.gather(*(background.stop(task) for task in pending))


def _database_down(exc: Exception) -> GenerationUnavailable:
    return GenerationUnavailable(f"the database is unavailable ({type(exc).__name__})")


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
    )


def _readable_schedule(body: dict[str, Any]) -> NewSchedule | None:
    """The schedule an invalid message is about, when its ids can be read."""
    try:
        ids = [str(uuid.UUID(str(body.get(k)))) for k in ("schedule_id", "trip_id", "requested_by")]
    except ValueError:
        return None
    request = body.get("request")
    return NewSchedule(
        id=ids[0],
        trip_id=ids[1],
        requested_by=ids[2],
        request=request if isinstance(request, dict) else {"invalid": repr(request)[:1000]},
        request_hash="",
        requested_at=None,
    )

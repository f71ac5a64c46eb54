"""The outbox relay's ordering and locking (real PostgreSQL), and how the trip-sync consumer
settles each kind of message (a recording queue, so every settlement can be checked)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from psycopg import OperationalError

from services.kit.db import open_pool
from services.kit.metrics import ServiceMetrics
from services.kit.outbox import OutboxMessage, OutboxRelay
from services.kit.queue import (
    TRIP_SYNC_SUBJECTS,
    QueuePort,
    QueueUnavailableError,
    ReceivedMessage,
)
from services.kit.trip_events import EventType
from services.trip import events
from services.trip.events import MalformedEvent, ScheduleEventConsumer, parse_schedule_event
from services.trip.repository import Pool, TripRepository
from services.trip.schemas import ScheduleStatus


class RecordingQueue:
    """Records what the relay sends and how the consumer settles; can refuse some sends."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()  # message ids refused (once each)
        self.sent: list[tuple[str, str, dict[str, Any], str | None]] = []
        self.settled: list[tuple[str, str]] = []

    async def send(
        self, queue: str, body: Mapping[str, Any], *, message_id: str, session_id: str | None = None
    ) -> None:
        if message_id in self.refuse:
            self.refuse.discard(message_id)
            raise QueueUnavailableError("Redis unreachable")
        self.sent.append((queue, message_id, dict(body), session_id))

    async def publish(self, topic: str, body: Mapping[str, Any], *, message_id: str) -> None:
        await self.send(topic, body, message_id=message_id)

    async def complete(self, message: ReceivedMessage) -> None:
        self.settled.append(("complete", message.message_id))

    async def abandon(self, message: ReceivedMessage) -> None:
        self.settled.append(("abandon", message.message_id))

    async def dead_letter(
        self, message: ReceivedMessage, reason: str, description: str = ""
    ) -> None:
        self.settled.append(("dead_letter", message.message_id))


class FlakyRepository:
    """advance_schedule fails like a database that went away, `failures` times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.applied: list[tuple[str, ScheduleStatus, Any, Any]] = []

    async def advance_schedule(
        self, schedule_id: str, status: ScheduleStatus, *, itinerary: Any = None, error: Any = None
    ) -> bool:
        if self.failures:
            self.failures -= 1
            raise OperationalError("server closed the connection unexpectedly")
        self.applied.append((schedule_id, status, itinerary, error))
        return True


def received(body: dict[str, Any]) -> ReceivedMessage:
    return ReceivedMessage(
        message_id=str(uuid.uuid4()),
        body=body,
        session_id=None,
        delivery_count=1,
        enqueued_at=datetime.now(UTC),
        queue="trip-events/subscriptions/trip-sync",
    )


def event(event_type: str, schedule_id: str | None = None, **data: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "trip_id": str(uuid.uuid4()),
        "schedule_id": schedule_id or str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": data,
    }


def consumer(repo: Any, queue: RecordingQueue) -> ScheduleEventConsumer:
    return ScheduleEventConsumer(
        repo,
        cast(QueuePort, queue),
        ServiceMetrics("trip"),
        concurrency=1,
        receive_max=1,
        receive_wait_s=0.1,
    )


# -- parsing -------------------------------------------------------------------------------------


def test_parse_reads_the_three_schedule_events() -> None:
    sid = str(uuid.uuid4())
    ready = parse_schedule_event(event("schedule.ready", sid, itinerary={"days": []}))
    assert ready is not None and ready.status is ScheduleStatus.DONE
    assert ready.itinerary == {"days": []} and ready.schedule_id == sid
    failed = parse_schedule_event(event("schedule.failed", sid, reason="solver timed out"))
    assert failed is not None and failed.error == "solver timed out" and failed.itinerary is None
    bare = parse_schedule_event(event("schedule.failed", sid))
    assert bare is not None and bare.error == "generation failed"
    running = parse_schedule_event(event("schedule.running", sid, itinerary={"ignored": 1}))
    assert running is not None and running.status is ScheduleStatus.RUNNING
    assert running.itinerary is None


def test_the_trip_sync_rule_takes_exactly_the_events_the_consumer_applies() -> None:
    applied = {
        t.value for t in EventType if parse_schedule_event(event(t.value, itinerary={})) is not None
    }
    assert applied == TRIP_SYNC_SUBJECTS


@pytest.mark.parametrize(
    "kind", ["trip.created", "trip.updated", "trip.deleted", "schedule.requested"]
)
def test_parse_ignores_events_trip_service_wrote(kind: str) -> None:
    assert parse_schedule_event(event(kind)) is None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "schedule.exploded", "schedule_id": str(uuid.uuid4())},
        {"schedule_id": str(uuid.uuid4())},
        {"type": "schedule.running", "schedule_id": "not-a-uuid"},
        {"type": "schedule.running"},
        {"type": "schedule.ready", "schedule_id": str(uuid.uuid4()), "data": {}},
        {"type": "schedule.ready", "schedule_id": str(uuid.uuid4()), "data": {"itinerary": [1]}},
        {"type": "schedule.running", "schedule_id": str(uuid.uuid4()), "data": "x"},
    ],
)
def test_parse_refuses_malformed_events(body: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        parse_schedule_event(body)


# -- settling ------------------------------------------------------------------------------------


async def test_an_applied_event_is_completed() -> None:
    queue, repo = RecordingQueue(), FlakyRepository()
    message = received(event("schedule.ready", itinerary={"days": []}))
    assert await consumer(repo, queue).handle(message) == "applied"
    assert queue.settled == [("complete", message.message_id)]
    assert repo.applied[0][1] is ScheduleStatus.DONE


async def test_a_database_outage_abandons_the_message_for_redelivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "_UNAVAILABLE_PAUSE_S", 0.0)
    queue, repo = RecordingQueue(), FlakyRepository(failures=1)
    handler = consumer(repo, queue)
    message = received(event("schedule.running"))
    assert await handler.handle(message) == "abandoned"
    assert queue.settled == [("abandon", message.message_id)]
    # The redelivery finds the database back and applies it.
    assert await handler.handle(message) == "applied"
    assert queue.settled[-1] == ("complete", message.message_id)


async def test_malformed_events_are_dead_lettered_and_others_ignored() -> None:
    queue, repo = RecordingQueue(), FlakyRepository()
    handler = consumer(repo, queue)
    bad = received({"type": "schedule.ready", "schedule_id": "nope"})
    other = received(event("trip.created"))
    assert await handler.handle(bad) == "dead-lettered"
    assert await handler.handle(other) == "ignored"
    assert queue.settled == [("dead_letter", bad.message_id), ("complete", other.message_id)]
    assert repo.applied == []


# -- the relay (real PostgreSQL) -----------------------------------------------------------------


@pytest.fixture
async def trip_pool(trip_schema: str) -> AsyncIterator[Pool]:
    pool = await open_pool(trip_schema, schema="trip_db", min_size=1, max_size=4, wait=True)
    try:
        yield pool
    finally:
        await pool.close()


async def _trip_with_messages(repo: TripRepository, entity: str, count: int) -> list[str]:
    ids = [f"{entity}-{n}" for n in range(count)]
    messages = [
        OutboxMessage("queue", entity, mid, {"n": n}, session_id=entity)
        for n, mid in enumerate(ids)
    ]
    fields = {
        "title": "relay",
        "destination_city": "Seoul",
        "start_date": "2026-04-01",
        "end_date": "2026-04-01",
        "travellers": 1,
        "budget": "low",
        "pace": "normal",
        "mode": "walk",
    }
    await repo.create_trip(str(uuid.uuid4()), str(uuid.uuid4()), fields, messages)
    return ids


def relay(repo: TripRepository, queue: RecordingQueue, batch_size: int = 100) -> OutboxRelay:
    return OutboxRelay(
        repo.outbox,
        cast(QueuePort, queue),
        ServiceMetrics("trip"),
        interval_s=0.1,
        batch_size=batch_size,
        retention_s=60,
    )


@pytest.mark.integration
async def test_the_relay_stops_at_a_refused_message_and_keeps_the_order(
    trip_pool: Pool,
) -> None:
    repo = TripRepository(trip_pool)
    entity = f"test-relay-{uuid.uuid4().hex[:8]}"
    ids = await _trip_with_messages(repo, entity, 3)
    queue = RecordingQueue(refuse={ids[1]})
    outbox = relay(repo, queue)

    await outbox.relay_once()
    assert [mid for q, mid, _, _ in queue.sent if q == entity] == ids[:1]
    await outbox.relay_once()
    mine = [(mid, body, sid) for q, mid, body, sid in queue.sent if q == entity]
    assert mine == [
        (ids[0], {"n": 0}, entity),
        (ids[1], {"n": 1}, entity),
        (ids[2], {"n": 2}, entity),
    ]
    await outbox.relay_once()  # everything was marked sent: nothing goes twice
    assert len([1 for q, *_ in queue.sent if q == entity]) == 3


@pytest.mark.integration
async def test_a_trip_written_as_one_document_keeps_its_messages_order_and_defaults(
    trip_pool: Pool,
) -> None:
    """The trip and its outbox rows travel as one jsonb parameter: the rows keep the order they
    were given in (the relay publishes in id order), and a field left out keeps its column
    default, as it would in a VALUES list."""
    repo = TripRepository(trip_pool)
    entity = f"test-order-{uuid.uuid4().hex[:8]}"
    ids = [f"{entity}-{n}" for n in range(40)]
    messages = [OutboxMessage("topic", entity, mid, {"n": n}) for n, mid in enumerate(ids)]
    fields = {"title": "defaults", "destination_city": "Seoul", "start_date": "2026-04-01",
              "end_date": "2026-04-02", "travellers": 1, "budget": "low", "pace": "normal",
              "mode": "walk", "not_a_column": "ignored"}  # fmt: skip
    trip = await repo.create_trip(str(uuid.uuid4()), str(uuid.uuid4()), fields, messages)
    assert (trip.preferred_categories, trip.must_visit, trip.wishes, trip.lodging) == (
        [],
        [],
        None,
        None,
    )
    assert (str(trip.start_date), str(trip.end_date), trip.version) == (
        "2026-04-01",
        "2026-04-02",
        1,
    )
    queue = RecordingQueue()
    await relay(repo, queue).relay_once()
    assert [mid for q, mid, _, _ in queue.sent if q == entity] == ids


@pytest.mark.integration
async def test_one_relay_at_a_time_across_replicas(trip_pool: Pool) -> None:
    repo = TripRepository(trip_pool)
    entity = f"test-relay-{uuid.uuid4().hex[:8]}"
    await _trip_with_messages(repo, entity, 2)
    queue = RecordingQueue()
    async with repo.outbox.unsent(10) as held:  # another replica's relay, mid-pass
        assert held.rows
        assert await relay(repo, queue).relay_once() == (0, False)
    published, _ = await relay(repo, queue).relay_once()
    assert published >= 2


@pytest.mark.integration
async def test_a_full_batch_says_more_may_be_waiting(trip_pool: Pool) -> None:
    repo = TripRepository(trip_pool)
    entity = f"test-relay-{uuid.uuid4().hex[:8]}"
    await _trip_with_messages(repo, entity, 3)
    queue = RecordingQueue()
    outbox = relay(repo, queue, batch_size=2)
    assert await outbox.relay_once() == (2, True)
    published, more = await outbox.relay_once()
    assert published >= 1
    while more:
        _, more = await outbox.relay_once()
    assert len([1 for q, *_ in queue.sent if q == entity]) == 3


@pytest.mark.integration
# (a linger far longer than the commits take, and commits far enough apart for a relay without
# one to finish its pass in between, so that a slow machine does not blur the two)
@pytest.mark.parametrize(("linger_s", "passes_wanted"), [(1.0, range(1, 3)), (0.0, range(4, 7))])
async def test_commits_close_together_share_a_pass_when_the_relay_lingers(
    trip_pool: Pool, linger_s: float, passes_wanted: range
) -> None:
    repo = TripRepository(trip_pool)
    entity = f"test-relay-{uuid.uuid4().hex[:8]}"
    queue = RecordingQueue()
    outbox = OutboxRelay(
        repo.outbox,
        cast(QueuePort, queue),
        ServiceMetrics("trip"),
        interval_s=30.0,  # only wakes move it
        batch_size=100,
        retention_s=60,
        linger_s=linger_s,
    )
    passes: list[int] = []  # rows of ours each pass published
    relay_once = outbox.relay_once

    async def counted() -> tuple[int, bool]:
        sent_before = len(mine(queue, entity))
        result = await relay_once()
        passes.append(len(mine(queue, entity)) - sent_before)
        return result

    outbox.relay_once = counted  # type: ignore[method-assign]
    async with outbox.running():
        await asyncio.sleep(0.2)  # the pass at start finds nothing of ours
        for n in range(6):  # six requests' commits, 50 ms apart, each waking the relay
            await _trip_with_messages(repo, f"{entity}-{n}", 1)
            outbox.wake()
            await asyncio.sleep(0.05)
        deadline = asyncio.get_running_loop().time() + 5
        while len(mine(queue, entity)) < 6:
            assert asyncio.get_running_loop().time() < deadline, "the relay did not publish"
            await asyncio.sleep(0.02)
    assert len([p for p in passes if p]) in passes_wanted, passes
    assert mine(queue, entity) == [f"{entity}-{n}-0" for n in range(6)]  # in commit order


class SlowQueue(RecordingQueue):
    """Accepts each message, then takes `delay_s` to answer (a queue across a slow network)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    async def send(
        self, queue: str, body: Mapping[str, Any], *, message_id: str, session_id: str | None = None
    ) -> None:
        await super().send(queue, body, message_id=message_id, session_id=session_id)
        await asyncio.sleep(self.delay_s)


@pytest.mark.integration
async def test_stopping_during_a_pass_lets_it_finish_rather_than_send_its_rows_twice(
    trip_pool: Pool,
) -> None:
    repo = TripRepository(trip_pool)
    entity = f"test-relay-{uuid.uuid4().hex[:8]}"
    queue = SlowQueue(delay_s=0.05)
    outbox = relay(repo, queue)
    async with outbox.running():
        await asyncio.sleep(0.2)  # the pass at start finds nothing of ours
        for n in range(4):
            await _trip_with_messages(repo, f"{entity}-{n}", 1)
        outbox.wake()
        deadline = asyncio.get_running_loop().time() + 5
        while not mine(queue, entity):  # stop once the queue has taken the first of ours
            assert asyncio.get_running_loop().time() < deadline, "the relay did not publish"
            await asyncio.sleep(0.005)
    assert mine(queue, entity) == [f"{entity}-{n}-0" for n in range(4)]


def mine(queue: RecordingQueue, entity: str) -> list[str]:
    return [mid for q, mid, _, _ in queue.sent if q.startswith(entity)]

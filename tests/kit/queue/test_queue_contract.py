"""The queue contract (DESIGN.md "Queue port"), run against every adapter that can be reached here:
Redis Streams live, and the in-memory test double. Service Bus: see test_servicebus_adapter.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.queue import (
    MAX_DELIVERY_REASON,
    MESSAGE_TTL_S,
    MessageLockLostError,
    QueueError,
    QueuePort,
    ReceivedMessage,
    dead_letter_queue_name,
)
from services.kit.queue.port import TRIP_SYNC_SUBSCRIPTION
from tests.kit.queue.fake_clock import FakeClock

MakeQueue = Callable[..., QueuePort]  # the `make_queue` fixture: a new consumer per call

QUEUE = "contract-jobs"
TOPIC = "trip-events"
SUBSCRIPTIONS = ("audit", "monitoring", "analytics")


async def receive_ids(queue: QueuePort, name: str = QUEUE, max_messages: int = 10) -> list[str]:
    return [m.message_id for m in await queue.receive(name, max_messages)]


async def test_send_receive_complete(make_queue: MakeQueue) -> None:
    queue = make_queue()
    before = datetime.now(UTC)
    await queue.send(QUEUE, {"trip_id": "t1", "days": 3}, message_id="m1")
    assert await queue.queue_length(QUEUE) == 1

    [message] = await queue.receive(QUEUE, max_messages=10)
    assert message.message_id == "m1"
    assert message.body == {"trip_id": "t1", "days": 3}
    assert message.session_id is None
    assert message.delivery_count == 1
    assert message.queue == QUEUE
    assert message.dead_letter_reason is None
    assert before - timedelta(seconds=1) <= message.enqueued_at <= datetime.now(UTC)
    assert await queue.queue_length(QUEUE) == 1  # locked messages are still active

    await queue.complete(message)
    assert await queue.queue_length(QUEUE) == 0
    assert await queue.receive(QUEUE) == []


async def test_receive_respects_max_messages_and_order(make_queue: MakeQueue) -> None:
    queue = make_queue()
    for n in range(5):
        await queue.send(QUEUE, {"n": n}, message_id=f"m{n}")
    first = await queue.receive(QUEUE, max_messages=3)
    rest = await queue.receive(QUEUE, max_messages=10)
    assert [m.body["n"] for m in first] == [0, 1, 2]
    assert [m.body["n"] for m in rest] == [3, 4]


async def test_receive_waits_for_a_message_sent_meanwhile(make_queue: MakeQueue) -> None:
    consumer, producer = make_queue(), make_queue()

    async def send_later() -> None:
        await asyncio.sleep(0.2)
        await producer.send(QUEUE, {"late": True}, message_id="late")

    sender = asyncio.create_task(send_later())
    started = time.monotonic()
    messages = await consumer.receive(QUEUE, wait_s=5.0)
    await sender
    assert [m.message_id for m in messages] == ["late"]
    assert time.monotonic() - started < 4.0  # woke up for the message, not at the deadline


async def test_receive_on_an_empty_queue_gives_up_after_wait(make_queue: MakeQueue) -> None:
    queue = make_queue()
    assert await queue.receive(QUEUE, wait_s=0.0) == []
    assert await queue.receive(QUEUE, wait_s=0.2) == []


async def test_duplicate_message_id_is_dropped_within_the_window(make_queue: MakeQueue) -> None:
    queue = make_queue(duplicate_window_s=1.0)
    await queue.send(QUEUE, {"v": 1}, message_id="same")
    await queue.send(QUEUE, {"v": 2}, message_id="same")
    [message] = await queue.receive(QUEUE, 10)
    assert message.body == {"v": 1}
    await queue.complete(message)
    # Still a duplicate after the original was completed, as on Service Bus.
    await queue.send(QUEUE, {"v": 3}, message_id="same")
    assert await queue.receive(QUEUE, 10) == []
    await asyncio.sleep(1.2)
    await queue.send(QUEUE, {"v": 4}, message_id="same")
    assert [m.body for m in await queue.receive(QUEUE, 10)] == [{"v": 4}]


async def test_zero_window_turns_duplicate_detection_off(make_queue: MakeQueue) -> None:
    queue = make_queue(duplicate_window_s=0)
    await queue.send(QUEUE, {"v": 1}, message_id="same")
    await queue.send(QUEUE, {"v": 2}, message_id="same")
    assert await receive_ids(queue) == ["same", "same"]


async def test_abandon_redelivers_with_one_more_delivery(make_queue: MakeQueue) -> None:
    queue = make_queue()
    await queue.send(QUEUE, {"v": 1}, message_id="m1")
    [first] = await queue.receive(QUEUE)
    await queue.abandon(first)
    [second] = await queue.receive(QUEUE)
    assert second.message_id == "m1"
    assert second.delivery_count == first.delivery_count + 1 == 2
    await queue.complete(second)
    assert await queue.queue_length(QUEUE) == 0


async def test_third_failed_delivery_moves_to_dead_letter_queue(make_queue: MakeQueue) -> None:
    queue = make_queue()
    await queue.send(QUEUE, {"poison": True}, message_id="bad")
    counts = []
    for _ in range(3):
        [message] = await queue.receive(QUEUE)
        counts.append(message.delivery_count)
        await queue.abandon(message)
    assert counts == [1, 2, 3]
    assert await queue.receive(QUEUE) == []
    assert await queue.queue_length(QUEUE) == 0
    assert await queue.dead_letter_count(QUEUE) == 1

    [dead] = await queue.receive(dead_letter_queue_name(QUEUE))
    assert dead.message_id == "bad"
    assert dead.body == {"poison": True}
    assert dead.dead_letter_reason == MAX_DELIVERY_REASON
    assert dead.queue == f"{QUEUE}/$deadletterqueue"
    await queue.complete(dead)
    assert await queue.dead_letter_count(QUEUE) == 0


async def test_lock_expiry_counts_as_a_delivery(make_queue: MakeQueue) -> None:
    queue = make_queue(lock_duration_s=0.15)
    await queue.send(QUEUE, {"v": 1}, message_id="crashy")
    for expected in (1, 2, 3):
        [message] = await queue.receive(QUEUE)
        assert message.delivery_count == expected
        await asyncio.sleep(0.25)  # the consumer "crashes": never settles
    assert await queue.receive(QUEUE) == []
    assert await queue.dead_letter_count(QUEUE) == 1


async def test_explicit_dead_letter_keeps_the_reason(make_queue: MakeQueue) -> None:
    queue = make_queue()
    await queue.send(QUEUE, {"trip_id": "missing"}, message_id="m1", session_id="trip-9")
    [message] = await queue.receive(QUEUE)
    await queue.dead_letter(message, "UnknownTrip", "trip missing does not exist")
    assert await queue.queue_length(QUEUE) == 0
    [dead] = await queue.receive(dead_letter_queue_name(QUEUE))
    assert (dead.message_id, dead.dead_letter_reason) == ("m1", "UnknownTrip")
    assert dead.session_id == "trip-9"
    with pytest.raises(QueueError):
        await queue.dead_letter(dead, "again")
    await queue.abandon(dead)  # the dead-letter queue has no delivery limit
    [again] = await queue.receive(dead_letter_queue_name(QUEUE))
    assert again.delivery_count == 2
    await queue.complete(again)


async def test_a_dead_consumers_message_is_reclaimed_after_its_lock(
    make_queue: MakeQueue,
) -> None:
    crashed, survivor = make_queue(lock_duration_s=0.8), make_queue(lock_duration_s=0.8)
    await crashed.send(QUEUE, {"v": 1}, message_id="m1")
    [lost] = await crashed.receive(QUEUE)
    assert await survivor.receive(QUEUE) == []  # still locked by the first consumer
    await asyncio.sleep(1.0)
    [reclaimed] = await survivor.receive(QUEUE)
    assert reclaimed.message_id == "m1"
    assert reclaimed.delivery_count == 2
    with pytest.raises(MessageLockLostError):
        await crashed.complete(lost)  # the first consumer woke up too late
    await survivor.complete(reclaimed)
    assert await survivor.queue_length(QUEUE) == 0


async def test_settling_twice_is_refused(make_queue: MakeQueue) -> None:
    queue = make_queue()
    await queue.send(QUEUE, {"v": 1}, message_id="m1")
    [message] = await queue.receive(QUEUE)
    await queue.complete(message)
    with pytest.raises(MessageLockLostError):
        await queue.complete(message)
    with pytest.raises(MessageLockLostError):
        await queue.abandon(message)


async def test_a_message_from_elsewhere_is_refused(make_queue: MakeQueue) -> None:
    queue = make_queue()
    stranger = ReceivedMessage("x", {}, None, 1, datetime.now(UTC), QUEUE, handle=object())
    with pytest.raises(QueueError):
        await queue.complete(stranger)


async def test_a_session_is_delivered_in_order_one_at_a_time(make_queue: MakeQueue) -> None:
    worker_a, worker_b = make_queue(), make_queue()
    for n in range(3):
        await worker_a.send(QUEUE, {"n": n}, message_id=f"a{n}", session_id="trip-A")
    await worker_a.send(QUEUE, {"n": 0}, message_id="b0", session_id="trip-B")
    await worker_a.send(QUEUE, {"n": 0}, message_id="free")

    first = await worker_a.receive(QUEUE, max_messages=10)
    assert [m.message_id for m in first] == ["a0", "b0", "free"]
    assert await worker_b.receive(QUEUE, max_messages=10) == []  # a1 waits for a0

    a0 = first[0]
    await worker_a.complete(a0)
    [a1] = await worker_b.receive(QUEUE, max_messages=10)
    assert a1.message_id == "a1"
    await worker_b.abandon(a1)  # redelivered before a2: order survives a failure
    [a1_again] = await worker_a.receive(QUEUE, max_messages=10)
    assert (a1_again.message_id, a1_again.delivery_count) == ("a1", 2)
    await worker_a.complete(a1_again)
    [a2] = await worker_b.receive(QUEUE, max_messages=10)
    assert a2.message_id == "a2"
    await worker_b.complete(a2)
    await worker_a.complete(first[1])
    await worker_a.complete(first[2])
    assert await worker_a.queue_length(QUEUE) == 0


async def test_session_order_survives_a_dead_consumer(make_queue: MakeQueue) -> None:
    crashed, survivor = make_queue(lock_duration_s=0.8), make_queue(lock_duration_s=0.8)
    for n in range(2):
        await crashed.send(QUEUE, {"n": n}, message_id=f"s{n}", session_id="trip-S")
    [s0] = await crashed.receive(QUEUE, 10)
    assert s0.message_id == "s0"
    assert await survivor.receive(QUEUE, 10) == []
    await asyncio.sleep(1.0)
    assert [(m.message_id, m.delivery_count) for m in await survivor.receive(QUEUE, 10)] == [
        ("s0", 2)
    ]


async def test_expired_messages_are_never_delivered(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    queue = make_queue(clock=clock)
    await queue.send(QUEUE, {"v": "old"}, message_id="old")
    clock.advance(MESSAGE_TTL_S - 60)
    await queue.send(QUEUE, {"v": "young"}, message_id="young")
    clock.advance(120)  # "old" is now 14 days and a minute old; "young" two minutes
    assert await receive_ids(queue) == ["young"]
    assert await queue.queue_length(QUEUE) == 1
    assert await queue.dead_letter_count(QUEUE) == 0  # expired is discarded, not dead-lettered


async def test_a_topic_fans_out_to_every_subscription(make_queue: MakeQueue) -> None:
    queue = make_queue()
    await queue.publish(TOPIC, {"event": "trip.created"}, message_id="e1")
    await queue.publish(TOPIC, {"event": "trip.updated"}, message_id="e2")
    await queue.publish(TOPIC, {"event": "trip.updated"}, message_id="e2")  # duplicate
    for subscription in SUBSCRIPTIONS:
        assert await queue.queue_length(TOPIC, subscription=subscription) == 2

    audit = await queue.receive(TOPIC, 10, subscription="audit")
    assert [m.body["event"] for m in audit] == ["trip.created", "trip.updated"]
    assert audit[0].queue == f"{TOPIC}/subscriptions/audit"
    for message in audit:
        await queue.complete(message)
    assert await queue.queue_length(TOPIC, subscription="audit") == 0
    assert await queue.queue_length(TOPIC, subscription="monitoring") == 2  # independent

    [first, _] = await queue.receive(TOPIC, 10, subscription="monitoring")
    await queue.abandon(first)
    [again] = await queue.receive(TOPIC, 10, subscription="monitoring")
    assert (again.message_id, again.delivery_count) == ("e1", 2)
    assert [m.message_id for m in await queue.receive(TOPIC, 10, subscription="analytics")] == [
        "e1",
        "e2",
    ]


async def test_a_subscription_rule_takes_only_its_subjects(make_queue: MakeQueue) -> None:
    queue = make_queue()
    for n, event_type in enumerate(("trip.created", "schedule.requested", "schedule.ready")):
        await queue.publish(TOPIC, {"type": event_type}, message_id=f"e{n}")
    await queue.publish(TOPIC, {"type": ["schedule.ready"]}, message_id="odd")  # no subject
    assert await queue.queue_length(TOPIC, subscription="audit") == 4  # no rule: every message
    assert await queue.queue_length(TOPIC, subscription=TRIP_SYNC_SUBSCRIPTION) == 1
    [ready] = await queue.receive(TOPIC, 10, subscription=TRIP_SYNC_SUBSCRIPTION)
    assert (ready.message_id, ready.body["type"]) == ("e2", "schedule.ready")
    await queue.complete(ready)
    assert await queue.queue_length(TOPIC, subscription=TRIP_SYNC_SUBSCRIPTION) == 0


async def test_subscription_dead_letters_are_per_subscription(make_queue: MakeQueue) -> None:
    queue = make_queue()
    await queue.publish(TOPIC, {"event": "bad"}, message_id="e1")
    [message] = await queue.receive(TOPIC, subscription="analytics")
    await queue.dead_letter(message, "Unparseable")
    assert await queue.dead_letter_count(TOPIC, subscription="analytics") == 1
    assert await queue.dead_letter_count(TOPIC, subscription="audit") == 0
    dlq = dead_letter_queue_name(TOPIC, "analytics")
    assert dlq == "trip-events/subscriptions/analytics/$deadletterqueue"
    [dead] = await queue.receive(dlq)
    assert dead.dead_letter_reason == "Unparseable"


async def test_misuse_is_refused_with_a_clear_error(make_queue: MakeQueue) -> None:
    queue = make_queue()
    with pytest.raises(QueueError, match="is a topic"):
        await queue.send(TOPIC, {}, message_id="m")
    with pytest.raises(QueueError, match="unknown topic"):
        await queue.publish("no-such-topic", {}, message_id="m")
    with pytest.raises(QueueError, match="pass subscription"):
        await queue.receive(TOPIC)
    with pytest.raises(QueueError, match="unknown subscription"):
        await queue.receive(TOPIC, subscription="billing")
    with pytest.raises(QueueError, match="cannot send"):
        await queue.send(dead_letter_queue_name(QUEUE), {}, message_id="m")
    with pytest.raises(TypeError, match="JSON object"):
        await queue.send(QUEUE, ["not", "a", "dict"], message_id="m")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        await queue.send(QUEUE, {"when": {1, 2}}, message_id="m")
    with pytest.raises(ValueError, match="message_id"):
        await queue.send(QUEUE, {}, message_id="")
    with pytest.raises(ValueError, match="max_messages"):
        await queue.receive(QUEUE, max_messages=0)
    assert await queue.queue_length(QUEUE) == 0


async def test_nothing_is_lost_sent_equals_completed_plus_dead_lettered(
    make_queue: MakeQueue,
) -> None:
    total, poison_every = 40, 4
    producer = make_queue()
    workers = [make_queue(), make_queue()]
    poison = {f"m{n}" for n in range(total) if n % poison_every == 0}
    for n in range(total):
        body = {"n": n, "poison": f"m{n}" in poison}
        await producer.send(QUEUE, body, message_id=f"m{n}", session_id=f"trip-{n % 5}")
    completed: list[str] = []

    async def work(queue: QueuePort) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            messages = await queue.receive(QUEUE, max_messages=4, wait_s=0.1)
            if not messages and await queue.queue_length(QUEUE) == 0:
                return
            for message in messages:
                if message.body["poison"]:
                    await queue.abandon(message)  # a handler that always fails
                else:
                    completed.append(message.message_id)
                    await queue.complete(message)

    await asyncio.gather(*(work(worker) for worker in workers))
    dead = await producer.receive(dead_letter_queue_name(QUEUE), max_messages=total)
    assert len(completed) == len(set(completed)) == total - len(poison)
    assert {m.message_id for m in dead} == poison
    assert all(m.dead_letter_reason == MAX_DELIVERY_REASON for m in dead)
    assert len(completed) + await producer.dead_letter_count(QUEUE) == total
    assert await producer.queue_length(QUEUE) == 0

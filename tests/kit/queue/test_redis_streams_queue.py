"""What only the Redis Streams adapter has: its key layout, topic trimming, consumer clean-up,
malformed entries, shared clients with socket timeouts, and a Redis that goes away and back."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.kit.queue import (
    MALFORMED_BODY_REASON,
    QueuePort,
    QueueUnavailableError,
    RedisStreamsQueue,
    dead_letter_queue_name,
)
from services.kit.queue.port import TRIP_EVENTS_SUBSCRIPTIONS
from simulation.backing import BackingServices, RedisServer, scratch_root

pytestmark = pytest.mark.integration

QUEUE = "redis-jobs"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


def adapter(client: aioredis.Redis, prefix: str, **kwargs: Any) -> RedisStreamsQueue:
    return RedisStreamsQueue(client, key_prefix=prefix, poll_interval_s=0.05, **kwargs)


async def test_keys_of_one_queue_share_a_cluster_slot(client: aioredis.Redis, prefix: str) -> None:
    queue = adapter(client, prefix)
    await queue.send(QUEUE, {"v": 1}, message_id="m1", session_id="s1")
    [message] = await queue.receive(QUEUE)
    await queue.dead_letter(message, "Test")
    found = await client.keys(f"{prefix}*")
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in found)
    assert keys == [
        f"{prefix}{{{QUEUE}}}",
        f"{prefix}{{{QUEUE}}}:dlq",
        f"{prefix}{{{QUEUE}}}:dup:m1",
    ]  # the session lock was released with the message
    assert isinstance(queue, QueuePort)


async def test_a_malformed_entry_is_dead_lettered(client: aioredis.Redis, prefix: str) -> None:
    queue = adapter(client, prefix)
    await queue.send(QUEUE, {"v": 1}, message_id="good")
    await client.xadd(f"{prefix}{{{QUEUE}}}", {"mid": "bad", "body": b"\xff not json", "t": 0})
    assert [m.message_id for m in await queue.receive(QUEUE, 10)] == ["good"]
    [dead] = await queue.receive(dead_letter_queue_name(QUEUE))
    assert (dead.message_id, dead.dead_letter_reason) == ("bad", MALFORMED_BODY_REASON)
    assert "malformed_body" in dead.body  # shown as it is; nowhere further to send it


async def test_topic_entries_go_once_every_subscription_settled(
    client: aioredis.Redis, prefix: str
) -> None:
    queue = adapter(client, prefix, trim_interval_s=0)  # trim after every settle
    stream = f"{prefix}{{trip-events}}"
    for n in range(3):
        await queue.publish("trip-events", {"n": n}, message_id=f"e{n}")
    *others, last = TRIP_EVENTS_SUBSCRIPTIONS
    for subscription in others:
        for message in await queue.receive("trip-events", 10, subscription=subscription):
            await queue.complete(message)
    assert await client.xlen(stream) == 3  # the last subscription has not read them yet
    [first, *rest] = await queue.receive("trip-events", 10, subscription=last)
    await queue.complete(first)
    assert await client.xlen(stream) == 2
    for message in rest:
        await queue.complete(message)
    assert await client.xlen(stream) == 0
    assert await queue.queue_length("trip-events", subscription=last) == 0


async def test_topic_trims_are_spaced_and_an_idle_receive_catches_up(
    client: aioredis.Redis, prefix: str
) -> None:
    queue = adapter(client, prefix, trim_interval_s=60)
    stream = f"{prefix}{{trip-events}}"
    for n in range(3):
        await queue.publish("trip-events", {"n": n}, message_id=f"e{n}")
    for subscription in TRIP_EVENTS_SUBSCRIPTIONS:
        for message in await queue.receive("trip-events", 10, subscription=subscription):
            await queue.complete(message)
    # Only the first settle trimmed (nothing was settled everywhere yet): the rest wait.
    assert await client.xlen(stream) == 3
    queue._trim_interval_s = 0  # the interval has passed
    assert await queue.receive("trip-events", 10, subscription=TRIP_EVENTS_SUBSCRIPTIONS[0]) == []
    assert await client.xlen(stream) == 0


async def test_close_forgets_an_idle_consumer(client: aioredis.Redis, prefix: str) -> None:
    queue = adapter(client, prefix)
    await queue.send(QUEUE, {"v": 1}, message_id="m1")
    [message] = await queue.receive(QUEUE)
    await queue.complete(message)
    stream = f"{prefix}{{{QUEUE}}}"
    assert [c["name"].decode() for c in await client.xinfo_consumers(stream, "workers")] == [
        queue.consumer
    ]
    await queue.close()
    assert await client.xinfo_consumers(stream, "workers") == []


async def test_close_keeps_a_consumer_that_still_holds_messages(
    client: aioredis.Redis, prefix: str
) -> None:
    queue = adapter(client, prefix)
    await queue.send(QUEUE, {"v": 1}, message_id="m1")
    await queue.receive(QUEUE)
    await queue.close()  # its message must stay pending, to be reclaimed after the lock
    stream = f"{prefix}{{{QUEUE}}}"
    assert len(await client.xinfo_consumers(stream, "workers")) == 1


async def test_waiting_stays_inside_a_short_socket_timeout(redis_url: str, prefix: str) -> None:
    # The services share one client with socket_timeout 0.5 s; a 2 s wait must not trip it.
    client = aioredis.Redis.from_url(redis_url, socket_timeout=0.3)
    queue = RedisStreamsQueue(client, key_prefix=prefix, poll_interval_s=1.0)
    try:
        assert await queue.receive(QUEUE, wait_s=1.0) == []
    finally:
        await client.aclose()


@pytest.fixture
def own_redis(backing: BackingServices) -> Iterator[RedisServer]:
    """A Redis of this test's own, so stopping it does not disturb the session's.
    (`backing` only for its check that the binaries exist.)"""
    workdir = Path(tempfile.mkdtemp(prefix="tripgen-redis-", dir=scratch_root()))
    workdir.chmod(0o711)  # the unprivileged service account must reach its subdirectory
    server = RedisServer(workdir / "redis")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


async def test_a_redis_outage_is_reported_and_survived(own_redis: RedisServer) -> None:
    # No client-side retries: the outage should surface at once rather than after back-off.
    client = aioredis.Redis.from_url(own_redis.url, retry=Retry(NoBackoff(), 0))
    queue = RedisStreamsQueue(client)
    try:
        await queue.send(QUEUE, {"v": 1}, message_id="before")
        own_redis.stop()
        with pytest.raises(QueueUnavailableError, match="Redis unreachable"):
            await queue.send(QUEUE, {"v": 2}, message_id="during")
        with pytest.raises(QueueUnavailableError):
            await queue.receive(QUEUE)
        own_redis.start()  # memory-only: the queue comes back empty, scripts and groups too
        await queue.send(QUEUE, {"v": 3}, message_id="after")
        [message] = await queue.receive(QUEUE)
        assert message.message_id == "after"
        await queue.complete(message)
    finally:
        await queue.close()
        await client.aclose()

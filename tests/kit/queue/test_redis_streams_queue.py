"""What only the Redis Streams adapter has: its key layout (a stream per subscription), consumer
clean-up, malformed entries, shared clients with socket timeouts, a Redis gone and back."""

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
    Subscription,
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


async def test_each_subscription_is_a_stream_of_its_own_in_the_topic_slot(
    client: aioredis.Redis, prefix: str
) -> None:
    queue = adapter(client, prefix)
    topic = f"{prefix}{{trip-events}}"
    await queue.publish("trip-events", {"type": "trip.created"}, message_id="e1")
    await queue.publish("trip-events", {"type": "schedule.ready"}, message_id="e2")
    names = [s.name for s in TRIP_EVENTS_SUBSCRIPTIONS]
    lengths = {name: await client.xlen(f"{topic}:sub:{name}") for name in names}
    # trip-sync's rule takes schedule outcomes only; the others take every event
    assert lengths == {"audit": 2, "monitoring": 2, "analytics": 2, "trip-sync": 1}
    for message in await queue.receive("trip-events", 10, subscription="audit"):
        await queue.complete(message)
    assert await client.xlen(f"{topic}:sub:audit") == 0  # settled entries are deleted
    assert await client.xlen(f"{topic}:sub:monitoring") == 2  # its own copies are untouched
    assert await queue.queue_length("trip-events", subscription="monitoring") == 2


async def test_a_message_no_subscription_accepts_still_counts_as_seen(
    client: aioredis.Redis, prefix: str
) -> None:
    queue = RedisStreamsQueue(
        client,
        key_prefix=prefix,
        topics={"t": [Subscription("only-x", frozenset({"x"}))]},
    )
    await queue.publish("t", {"type": "y"}, message_id="m1")
    await queue.publish("t", {"type": "x"}, message_id="m1")  # a duplicate within the window
    assert await queue.receive("t", 10, subscription="only-x") == []
    await queue.publish("t", {"type": "x"}, message_id="m2")
    assert [m.message_id for m in await queue.receive("t", 10, subscription="only-x")] == ["m2"]


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

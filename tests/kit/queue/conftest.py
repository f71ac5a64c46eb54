"""Adapters under the queue contract: Redis Streams live against the session Redis, and the
in-memory test double. Each test gets a factory; every adapter it makes shares one broker
namespace, so two adapters act as two consumers of the same queues."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.kit.queue import QueueOptions, QueuePort, RedisStreamsQueue
from tests.kit.queue.fake_clock import FakeClock
from tests.kit.queue.memory_queue import InMemoryQueue, MemoryBroker

MakeQueue = Callable[..., QueuePort]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["redis-streams", "in-memory"])
async def make_queue(request: pytest.FixtureRequest) -> AsyncIterator[MakeQueue]:
    """`make_queue(**QueueOptions fields)` → a new adapter (a new consumer) on the shared broker."""
    adapters: list[QueuePort] = []
    client: aioredis.Redis | None = None
    broker = MemoryBroker()
    prefix = f"test:{uuid.uuid4().hex[:10]}:"  # isolates tests without flushing the shared Redis
    if request.param == "redis-streams":
        client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))

    def make(**options: Any) -> QueuePort:
        settings = QueueOptions(**options)
        adapter: QueuePort
        if client is not None:
            adapter = RedisStreamsQueue(
                client, options=settings, key_prefix=prefix, poll_interval_s=0.05
            )
        else:
            adapter = InMemoryQueue(broker, settings)
        adapters.append(adapter)
        return adapter

    yield make
    for adapter in adapters:
        await adapter.close()
    if client is not None:
        await client.aclose()

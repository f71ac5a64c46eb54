"""The revocation feed: a published revocation reaches other processes at once, a vouched-for
entry costs no Redis call, and every way the feed can fail falls back to the 1 s poll.

On a real Redis; two `SessionVersions` on separate clients stand for two service processes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
import redis.asyncio as aioredis

from services.kit.session_feed import RevocationFeed, parse_revocation, revocation_message
from services.kit.sessions import SessionVersions
from tests.support import session_versions

pytestmark = pytest.mark.integration
WAIT_S = 5.0  # far below the poll intervals used here, far above a pub/sub delivery


def _count_reads(versions: SessionVersions) -> list[str]:
    """Record every Redis read `versions` makes from now on."""
    reads: list[str] = []
    read = versions._read

    async def counted(user_id: str) -> int:
        reads.append(user_id)
        return await read(user_id)

    versions._read = counted  # type: ignore[method-assign]
    return reads


async def _until(check: Callable[[], Awaitable[bool]], within_s: float) -> float:
    """Seconds until `check` holds; fails after `within_s`."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < within_s, f"not within {within_s} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def _subscribed(versions: SessionVersions) -> None:
    assert versions.feed is not None
    await asyncio.wait_for(versions.feed.subscribed.wait(), WAIT_S)


@pytest.fixture
async def clients(clean_redis: str) -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis]]:
    first, second = aioredis.Redis.from_url(clean_redis), aioredis.Redis.from_url(clean_redis)
    try:
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_revocation_reaches_another_process_at_once(
    clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    # A 30 s poll: only the push can explain the reader seeing the revocation within seconds.
    reader, writer = session_versions(clients[0], cache_s=30), session_versions(clients[1])
    async with reader.listening(), writer.listening():
        await _subscribed(reader)
        assert await reader.is_current("u1", 0)

        await writer.publish("u1", 4)

        async def refused() -> bool:
            return not await reader.is_current("u1", 3)

        elapsed = await _until(refused, WAIT_S)
        assert await reader.is_current("u1", 4)
    print(f"\nrevocation seen by the other process after {elapsed * 1000:.1f} ms")


async def test_a_vouched_entry_costs_no_redis_call(
    clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    with_feed, without_feed = (
        session_versions(clients[0], cache_s=0.2),
        session_versions(clients[1], cache_s=0.2),
    )
    async with with_feed.listening():
        await _subscribed(with_feed)
        for versions in (with_feed, without_feed):
            assert await versions.is_current("u1", 0)
        reads = {id(v): _count_reads(v) for v in (with_feed, without_feed)}
        await asyncio.sleep(0.5)  # past the poll interval
        for versions in (with_feed, without_feed):
            for _ in range(100):
                assert await versions.is_current("u1", 0)
    assert reads[id(with_feed)] == []
    assert reads[id(without_feed)] == ["u1"]  # the poll: read again once expired


async def test_a_lost_feed_falls_back_to_the_poll_interval(
    clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    reader = session_versions(clients[0], cache_s=0.3)
    async with reader.listening():
        await _subscribed(reader)
        assert await reader.is_current("u1", 0)
        # The feed's connection drops, and a revocation is stored while nobody hears of it.
        await clients[1].execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await clients[1].set("session:u1", 6)

        async def refused() -> bool:
            return not await reader.is_current("u1", 5)

        # Within the poll interval, plus scheduling noise; the feed alone would never tell.
        elapsed = await _until(refused, 0.3 + 1.0)
        assert reader.feed is not None
        # Back, it vouches only for entries read after it subscribed again.
        await _subscribed(reader)
        resubscribed_at = reader.feed.subscribed_at
        assert resubscribed_at is not None
        assert not reader.feed.vouches_for(resubscribed_at - 0.001, time.monotonic())
    print(f"\nrevocation seen through the poll after {elapsed * 1000:.0f} ms")


async def test_a_feed_that_has_not_answered_lately_vouches_for_nothing() -> None:
    # A connection that died without a word: no message, no pong. Its trust lapses after
    # fresh_s, as fast as the poll interval expires an entry.
    feed = RevocationFeed(aioredis.Redis(), lambda *_: None, fresh_s=1.0)
    now = time.monotonic()
    assert not feed.vouches_for(now, now)  # never subscribed
    feed.subscribed_at = now - 10
    feed._heard_at = now - 0.5
    assert feed.vouches_for(now - 5, now)
    assert not feed.vouches_for(now - 11, now)  # read before the subscription
    feed._heard_at = now - 1.5
    assert not feed.vouches_for(now - 5, now)
    feed._heard_at = -math.inf
    assert not feed.vouches_for(now - 5, now)


async def test_a_push_landing_during_a_read_wins_over_the_older_answer() -> None:
    versions = session_versions(None)

    async def read_overtaken_by_a_push(user_id: str) -> int:
        versions._revoked(user_id, 5)  # published after Redis answered the GET below
        return 0

    versions._read = read_overtaken_by_a_push  # type: ignore[method-assign]
    assert await versions.current("u1") == 5
    assert versions._seen["u1"][0] == 5


async def test_a_late_older_revocation_leaves_the_newer_one_in_force(
    clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    first, late = session_versions(clients[0]), session_versions(clients[1])
    async with AsyncExitStack() as stack:
        for versions in (first, late):
            await stack.enter_async_context(versions.listening())
        await first.publish("u1", 7)
        await late.publish("u1", 5)  # raced and lost: Redis keeps 7, and says so
        assert not await late.is_current("u1", 6)
        assert await clients[0].get("session:u1") == b"7"


def test_revocation_messages_round_trip_and_strangers_are_ignored() -> None:
    assert parse_revocation(revocation_message("0b7c-uuid", 12).encode()) == ("0b7c-uuid", 12)
    for stranger in (b"", b"12", b"u1 x", b"u1 -3", "no-version "):
        assert parse_revocation(stranger) is None

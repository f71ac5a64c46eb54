"""The queue port on Redis Streams: the default broker of the `local` and `kind` platforms.

A queue is a stream with one consumer group. A topic's subscription is a stream of its own, as a
Service Bus subscription is a queue of its own: a publish appends a copy to each subscription
whose rule accepts the message's subject, in one script, and a subscription that filters a
message out never reads it. Settled entries are deleted from every stream. Each operation is one
Lua script (see `redis_scripts` for the state model), so many replicas can share a queue safely.
Keys of one entity (a topic's subscriptions too) share a hash tag (`{name}`) and so a Redis
Cluster slot. Why not XAUTOCLAIM: it claims before we can look at a message's session and
delivery count; XPENDING with IDLE lists the same expired entries and lets the script decide.

Time: locks and the duplicate window use Redis's clock (key expiry, pending idle time); message
TTL uses `QueueOptions.clock`, so tests can move time forward. While `receive` waits it blocks on
XREAD for new entries in slices of `poll_interval_s`, which also bounds how late it notices a
message made available by a lock expiry, an abandon, or a session becoming free.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.kit.queue import redis_scripts
from services.kit.queue.port import (
    DEFAULT_TOPICS,
    MALFORMED_BODY_REASON,
    EntityPath,
    MessageLockLostError,
    QueueError,
    QueueOptions,
    QueueUnavailableError,
    ReceivedMessage,
    Topics,
    Topology,
    check_message_id,
    decode_body,
    encode_body,
)

QUEUE_GROUP = "workers"  # the one consumer group of every stream (queue or subscription)
DEFAULT_KEY_PREFIX = "tripgen:queue:"


@dataclass(frozen=True, slots=True)
class _Stream:
    """Where an entity lives in Redis and how its entries are settled."""

    entity: EntityPath
    key: str
    group: str
    dead_letter_key: str
    lock_prefix: str  # '' when session ordering does not apply
    max_deliveries: int  # 0 = no limit (dead-letter queues)

    @property
    def is_dead_letter_queue(self) -> bool:
        return self.entity.dead_letter


@dataclass(frozen=True, slots=True)
class _Handle:
    stream: _Stream
    entry_id: str
    consumer: str
    delivery_count: int
    session_id: str | None


def _text(value: bytes | str) -> str:
    # Entries written by something else than this adapter may hold any bytes.
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class RedisStreamsQueue:
    """`QueuePort` on Redis ≥ 7.0 Streams (redis-py asyncio)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        options: QueueOptions | None = None,
        topics: Topics = DEFAULT_TOPICS,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        consumer: str | None = None,
        poll_interval_s: float = 0.25,
        pending_scan_limit: int = 1000,
        owns_client: bool = False,
    ) -> None:
        self._redis = redis
        self._options = options or QueueOptions()
        self._topology = Topology(topics)
        self._prefix = key_prefix
        self.consumer = consumer or _default_consumer_name()
        self._poll_interval_s = poll_interval_s
        self._scan_limit = pending_scan_limit
        self._owns_client = owns_client
        self._send = redis.register_script(redis_scripts.SEND)
        self._receive = redis.register_script(redis_scripts.RECEIVE)
        self._settle_script = redis.register_script(redis_scripts.SETTLE)
        self._forget_consumer = redis.register_script(redis_scripts.FORGET_CONSUMER)
        self._joined: set[str] = set()  # streams this consumer read from

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStreamsQueue:
        """An adapter with its own client (closed by `close()`)."""
        return cls(aioredis.Redis.from_url(url), owns_client=True, **kwargs)

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        queue: str,
        body: Mapping[str, Any],
        *,
        message_id: str,
        session_id: str | None = None,
    ) -> None:
        entity = self._topology.sendable(queue)
        await self._append(entity, body, message_id, session_id, [self._stream(entity).key])

    async def publish(self, topic: str, body: Mapping[str, Any], *, message_id: str) -> None:
        subscribers = self._topology.subscribers(topic, body)
        streams = [self._stream(EntityPath(topic, name)).key for name in subscribers]
        # No subscriber: still one call, so the id counts for duplicate detection as on Service Bus.
        await self._append(EntityPath(topic), body, message_id, None, streams)

    async def _append(
        self,
        entity: EntityPath,
        body: Mapping[str, Any],
        message_id: str,
        session_id: str | None,
        streams: Sequence[str],
    ) -> None:
        check_message_id(message_id, session_id)
        payload = encode_body(str(entity), body)
        now_ms = self._now_ms()
        ttl_ms = int(self._options.message_ttl_s * 1000)
        async with self._translate_errors(entity):
            await self._send(
                keys=[f"{self._key(entity.name)}:dup:{message_id}", *streams],
                args=[
                    int(self._options.duplicate_window_s * 1000),
                    message_id,
                    payload,
                    session_id or "",
                    now_ms,
                    now_ms + ttl_ms if ttl_ms else 0,
                    QUEUE_GROUP,
                ],
            )

    # ------------------------------------------------------------------ receiving

    async def receive(
        self,
        queue: str,
        max_messages: int = 1,
        wait_s: float = 0.0,
        *,
        subscription: str | None = None,
    ) -> list[ReceivedMessage]:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        stream = self._stream(self._topology.receivable(queue, subscription))
        self._joined.add(stream.key)
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            async with self._translate_errors(stream.entity):
                last_id, rows = await self._receive(
                    keys=[stream.key, stream.dead_letter_key],
                    args=[
                        stream.group,
                        self.consumer,
                        max_messages,
                        self._lock_ms(),
                        stream.max_deliveries,
                        self._now_ms(),
                        stream.lock_prefix,
                        self._scan_limit,
                    ],
                )
            messages = [m for row in rows if (m := await self._message(stream, row)) is not None]
            if messages:
                return messages
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            await self._wait_for_entries(stream, _text(last_id), remaining)

    async def _wait_for_entries(self, stream: _Stream, after_id: str, remaining_s: float) -> None:
        """Block until an entry newer than `after_id` arrives, or one poll interval passes."""
        slice_s = min(remaining_s, self._poll_interval_s)
        # A shared client may have a socket timeout; a block longer than it would look like an
        # outage, so stay well inside it.
        socket_timeout = self._redis.connection_pool.connection_kwargs.get("socket_timeout")
        if socket_timeout:
            slice_s = min(slice_s, socket_timeout / 2)
        async with self._translate_errors(stream.entity):
            block_ms = max(1, int(slice_s * 1000))  # 0 would mean "forever" to XREAD
            await self._redis.xread({stream.key: after_id}, count=1, block=block_ms)

    async def _message(self, stream: _Stream, row: list[Any]) -> ReceivedMessage | None:
        entry_id, flat, delivery_count = _text(row[0]), row[1], int(row[2])
        fields = {_text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
        session_id = _text(fields["sid"]) if "sid" in fields else None
        handle = _Handle(stream, entry_id, self.consumer, delivery_count, session_id)
        message_id = _text(fields.get("mid", b""))
        try:
            body = decode_body(fields.get("body", b""))
        except ValueError as exc:
            if stream.is_dead_letter_queue:  # nowhere further to send it: show it as it is
                body = {"malformed_body": _text(fields.get("body", b""))}
            else:
                why, detail = MALFORMED_BODY_REASON, str(exc)
                await self._settle("dead_letter", handle, message_id, why, detail)
                return None
        reason = fields.get("reason")
        return ReceivedMessage(
            message_id=message_id,
            body=body,
            session_id=session_id,
            delivery_count=delivery_count,
            enqueued_at=datetime.fromtimestamp(int(fields.get("t", 0)) / 1000, UTC),
            queue=str(stream.entity),
            dead_letter_reason=_text(reason) if reason is not None else None,
            handle=handle,
        )

    # ------------------------------------------------------------------ settling

    async def complete(self, message: ReceivedMessage) -> None:
        await self._settle("complete", self._handle(message), message.message_id)

    async def abandon(self, message: ReceivedMessage) -> None:
        await self._settle("abandon", self._handle(message), message.message_id)

    async def dead_letter(
        self, message: ReceivedMessage, reason: str, description: str = ""
    ) -> None:
        handle = self._handle(message)
        if handle.stream.is_dead_letter_queue:
            raise QueueError(
                f"message {message.message_id} is already in {message.queue}; complete it instead"
            )
        await self._settle("dead_letter", handle, message.message_id, reason, description)

    def _handle(self, message: ReceivedMessage) -> _Handle:
        if not isinstance(message.handle, _Handle):
            raise QueueError(
                f"message {message.message_id} was not received through a Redis Streams queue"
            )
        return message.handle

    async def _settle(
        self, op: str, handle: _Handle, message_id: str, reason: str = "", description: str = ""
    ) -> None:
        stream = handle.stream
        lock_key = f"{stream.lock_prefix}{handle.session_id}" if handle.session_id else ""
        async with self._translate_errors(stream.entity):
            outcome = _text(
                await self._settle_script(
                    keys=[stream.key, stream.dead_letter_key],
                    args=[
                        op,
                        stream.group,
                        handle.consumer,
                        handle.entry_id,
                        handle.delivery_count,
                        lock_key if stream.lock_prefix else "",
                        self._lock_ms(),
                        stream.max_deliveries,
                        self._now_ms(),
                        reason,
                        description,
                    ],
                )
            )
        if outcome == "lost":
            raise MessageLockLostError(
                f"cannot {op.replace('_', '-')} message {message_id} of {stream.entity}: its "
                "lock expired and it was redelivered, or it was already settled"
            )

    # ------------------------------------------------------------------ metrics

    async def queue_length(self, queue: str, *, subscription: str | None = None) -> int:
        stream = self._stream(self._topology.receivable(queue, subscription))
        async with self._translate_errors(stream.entity):
            return int(await self._redis.xlen(stream.key))

    async def dead_letter_count(self, queue: str, *, subscription: str | None = None) -> int:
        entity = self._topology.receivable(queue, subscription)
        dead_letters = self._stream(EntityPath(entity.name, entity.subscription, dead_letter=True))
        async with self._translate_errors(entity):
            return int(await self._redis.xlen(dead_letters.key))

    async def close(self) -> None:
        for key in self._joined:
            with contextlib.suppress(RedisError):
                await self._forget_consumer(keys=[key], args=[QUEUE_GROUP, self.consumer])
        self._joined.clear()
        if self._owns_client:
            await self._redis.aclose()

    # ------------------------------------------------------------------ helpers

    def _key(self, name: str) -> str:
        return f"{self._prefix}{{{name}}}"

    def _stream(self, entity: EntityPath) -> _Stream:
        base = self._key(entity.name)
        if entity.dead_letter:
            key = f"{base}:dlq" + (f":{entity.subscription}" if entity.subscription else "")
            return _Stream(entity, key, QUEUE_GROUP, key, "", 0)
        limit = self._options.max_delivery_count
        if entity.subscription is not None:  # no sessions on subscriptions
            key = f"{base}:sub:{entity.subscription}"
            return _Stream(entity, key, QUEUE_GROUP, f"{base}:dlq:{entity.subscription}", "", limit)
        lock_prefix = f"{base}:lock:{QUEUE_GROUP}:"
        return _Stream(entity, base, QUEUE_GROUP, f"{base}:dlq", lock_prefix, limit)

    def _now_ms(self) -> int:
        return int(self._options.clock() * 1000)

    def _lock_ms(self) -> int:
        return max(1, int(self._options.lock_duration_s * 1000))

    @contextlib.asynccontextmanager
    async def _translate_errors(self, entity: EntityPath) -> AsyncIterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # redis-py can turn a cancellation into a read timeout; a consumer being shut
                # down must see the cancellation, not a retryable outage.
                raise asyncio.CancelledError from exc
            raise QueueUnavailableError(f"Redis unreachable for {entity}: {exc}") from exc

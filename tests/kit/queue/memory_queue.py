"""An in-memory `QueuePort` — a test double only, held to the same contract suite as the adapters.

Several `InMemoryQueue` instances on one `MemoryBroker` behave like consumers on one broker. All
time (locks, duplicate window, TTL) comes from each adapter's `QueueOptions.clock`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.kit.queue.port import (
    DEFAULT_TOPICS,
    MAX_DELIVERY_REASON,
    EntityPath,
    MessageLockLostError,
    QueueError,
    QueueOptions,
    ReceivedMessage,
    Topics,
    Topology,
    check_message_id,
    decode_body,
    encode_body,
)


@dataclass(eq=False)  # identity: two messages with equal fields are still two messages
class _Entry:
    message_id: str
    body: bytes
    session_id: str | None
    enqueued_at: float
    expires_at: float | None
    deliveries: int = 0
    lease: int = 0  # bumped on every delivery; a settle must present the current one
    locked_by: str | None = None
    locked_until: float = 0.0
    dead_letter_reason: str | None = None


@dataclass(frozen=True)
class _Handle:
    entity: EntityPath
    entry: _Entry
    lease: int
    consumer: str


@dataclass
class MemoryBroker:
    topics: Topics = field(default_factory=lambda: DEFAULT_TOPICS)
    entities: dict[EntityPath, list[_Entry]] = field(default_factory=dict)
    seen_ids: dict[tuple[str, str], float] = field(default_factory=dict)  # -> window end
    leases: itertools.count[int] = field(default_factory=itertools.count)

    def entries(self, entity: EntityPath) -> list[_Entry]:
        return self.entities.setdefault(entity, [])


class InMemoryQueue:
    def __init__(self, broker: MemoryBroker, options: QueueOptions | None = None) -> None:
        self.broker = broker
        self.options = options or QueueOptions()
        self.topology = Topology(broker.topics)
        self.consumer = uuid.uuid4().hex

    async def send(
        self,
        queue: str,
        body: Mapping[str, Any],
        *,
        message_id: str,
        session_id: str | None = None,
    ) -> None:
        entity = self.topology.sendable(queue)
        self._append(entity.name, [entity], body, message_id, session_id)

    async def publish(self, topic: str, body: Mapping[str, Any], *, message_id: str) -> None:
        targets = [EntityPath(topic, sub) for sub in self.topology.subscribers(topic, body)]
        self._append(topic, targets, body, message_id, None)

    def _append(
        self,
        name: str,
        targets: list[EntityPath],
        body: Mapping[str, Any],
        message_id: str,
        session_id: str | None,
    ) -> None:
        check_message_id(message_id, session_id)
        payload = encode_body(name, body)
        now = self.options.clock()
        window = self.options.duplicate_window_s
        if window > 0:
            if self.broker.seen_ids.get((name, message_id), 0.0) > now:
                return
            self.broker.seen_ids[(name, message_id)] = now + window
        ttl = self.options.message_ttl_s
        for target in targets:
            self.broker.entries(target).append(
                _Entry(message_id, payload, session_id, now, now + ttl if ttl else None)
            )

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
        entity = self.topology.receivable(queue, subscription)
        deadline = time.monotonic() + wait_s
        while True:
            found = self._take(entity, max_messages)
            if found or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(0.01)

    def _take(self, entity: EntityPath, max_messages: int) -> list[ReceivedMessage]:
        now = self.options.clock()
        entries = self.broker.entries(entity)
        limit = 0 if entity.dead_letter else self.options.max_delivery_count
        sessions_ordered = not entity.dead_letter and entity.subscription is None
        busy: set[str] = set()
        taken: list[ReceivedMessage] = []
        for entry in list(entries):
            if len(taken) >= max_messages:
                break
            session = entry.session_id if sessions_ordered else None
            if entry.locked_by is not None and entry.locked_until > now:
                if session:
                    busy.add(session)
                continue
            if not entity.dead_letter and entry.expires_at is not None and now >= entry.expires_at:
                entries.remove(entry)
                continue
            if limit and entry.deliveries >= limit:
                self._move_to_dead_letter(entity, entry, MAX_DELIVERY_REASON)
                continue
            if session and session in busy:
                continue
            entry.deliveries += 1
            entry.lease = next(self.broker.leases)
            entry.locked_by = self.consumer
            entry.locked_until = now + self.options.lock_duration_s
            if session:
                busy.add(session)
            taken.append(
                ReceivedMessage(
                    message_id=entry.message_id,
                    body=decode_body(entry.body),
                    session_id=entry.session_id,
                    delivery_count=entry.deliveries,
                    enqueued_at=datetime.fromtimestamp(entry.enqueued_at, UTC),
                    queue=str(entity),
                    dead_letter_reason=entry.dead_letter_reason,
                    handle=_Handle(entity, entry, entry.lease, self.consumer),
                )
            )
        return taken

    def _move_to_dead_letter(self, entity: EntityPath, entry: _Entry, reason: str) -> None:
        self.broker.entries(entity).remove(entry)
        dead_letters = EntityPath(entity.name, entity.subscription, dead_letter=True)
        self.broker.entries(dead_letters).append(
            _Entry(
                entry.message_id,
                entry.body,
                entry.session_id,
                entry.enqueued_at,
                None,
                dead_letter_reason=reason,
            )
        )

    def _owned(self, message: ReceivedMessage) -> _Handle:
        handle = message.handle
        if not isinstance(handle, _Handle):
            raise QueueError(f"message {message.message_id} was not received from this broker")
        entry = handle.entry
        if (
            entry not in self.broker.entries(handle.entity)
            or entry.lease != handle.lease
            or entry.locked_by != handle.consumer
        ):
            raise MessageLockLostError(f"lock on message {message.message_id} was lost")
        return handle

    async def complete(self, message: ReceivedMessage) -> None:
        handle = self._owned(message)
        self.broker.entries(handle.entity).remove(handle.entry)

    async def abandon(self, message: ReceivedMessage) -> None:
        handle = self._owned(message)
        entry = handle.entry
        entry.locked_by, entry.locked_until = None, 0.0
        limit = 0 if handle.entity.dead_letter else self.options.max_delivery_count
        if limit and entry.deliveries >= limit:
            self._move_to_dead_letter(handle.entity, entry, MAX_DELIVERY_REASON)

    async def dead_letter(
        self, message: ReceivedMessage, reason: str, description: str = ""
    ) -> None:
        handle = self._owned(message)
        if handle.entity.dead_letter:
            raise QueueError(f"message {message.message_id} is already in {message.queue}")
        self._move_to_dead_letter(handle.entity, handle.entry, reason)

    async def queue_length(self, queue: str, *, subscription: str | None = None) -> int:
        return len(self.broker.entries(self.topology.receivable(queue, subscription)))

    async def dead_letter_count(self, queue: str, *, subscription: str | None = None) -> int:
        entity = self.topology.receivable(queue, subscription)
        dead_letters = EntityPath(entity.name, entity.subscription, dead_letter=True)
        return len(self.broker.entries(dead_letters))

    async def close(self) -> None:
        return None

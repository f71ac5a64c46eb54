"""The queue port: what a service may ask of a message broker, whichever broker is behind it.

Semantics every adapter keeps (DESIGN.md "Queue port"; SPEC.md "Service Bus entity"):

- At-least-once: a received message is locked for `lock_duration_s`; it is delivered again after
  `abandon()` or when its lock expires (its consumer died), until `complete()` or `dead_letter()`.
- `delivery_count` is 1 on the first delivery and grows by one on each redelivery. A message
  abandoned (or whose lock expired) on its `max_delivery_count`-th delivery moves to the queue's
  dead-letter queue with reason `MaxDeliveryCountExceeded`.
- Duplicate detection: a second `send` with a `message_id` seen within `duplicate_window_s` is
  dropped (0 turns detection off).
- Sessions: a session's next message is not delivered while an earlier one of the same session is
  in flight; sessions are independent of each other.
- TTL: a message older than `message_ttl_s` is never delivered (it is discarded, as Service Bus
  does by default). Dead-lettered messages do not expire.
- Topics fan out: `publish(topic, …)` reaches every subscription declared for the topic whose
  rule accepts the message's subject (the body's `type`; Service Bus `subject`); each subscription
  holds its own copy and is received like a queue with `receive(topic, …, subscription=name)`.
- Dead-letter queues use Service Bus paths: `<queue>/$deadletterqueue` and
  `<topic>/subscriptions/<subscription>/$deadletterqueue`; receive from them like from a queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeAlias, runtime_checkable

import orjson

# contracts.md "Queues"
AI_SCHEDULE_QUEUE = "ai-schedule-generation"
LOCATION_SEARCH_QUEUE = "location-search"
NOTIFICATION_QUEUE = "notification"
TRIP_EVENTS_TOPIC = "trip-events"
# trip-service's subscription: it feeds that service's schedule read model.
TRIP_SYNC_SUBSCRIPTION = "trip-sync"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A topic subscription and its rule: the message subjects it receives (None = every one).

    On Service Bus the rule is the subscription's filter (contracts.md "Queues"); the other
    adapters apply it when a message is published.
    """

    name: str
    subjects: frozenset[str] | None = None

    def accepts(self, subject: str | None) -> bool:
        return self.subjects is None or subject in self.subjects


# The events trip-service's read model applies (services.trip.events): ai-service's outcomes of a
# generation. trip.* and schedule.requested are trip-service's own writes; not receiving them
# saves a receive and a settle per trip event (and, on Service Bus, billed operations).
TRIP_SYNC_SUBJECTS = frozenset({"schedule.running", "schedule.ready", "schedule.failed"})
# SPEC.md names audit, monitoring, analytics; declaring trip-sync here keeps its copies even
# while trip-service is down.
TRIP_EVENTS_SUBSCRIPTIONS = (
    Subscription("audit"),
    Subscription("monitoring"),
    Subscription("analytics"),
    Subscription(TRIP_SYNC_SUBSCRIPTION, TRIP_SYNC_SUBJECTS),
)
# topic → its subscriptions (a plain name is a subscription without a rule)
Topics: TypeAlias = Mapping[str, Collection[str | Subscription]]
DEFAULT_TOPICS: Topics = {TRIP_EVENTS_TOPIC: TRIP_EVENTS_SUBSCRIPTIONS}

DEAD_LETTER_SUFFIX = "/$deadletterqueue"
SUBSCRIPTIONS_SEGMENT = "/subscriptions/"
# The reasons Service Bus itself writes, so dashboards read the same on every backend.
MAX_DELIVERY_REASON = "MaxDeliveryCountExceeded"
MALFORMED_BODY_REASON = "MalformedBody"

MESSAGE_TTL_S = 14 * 24 * 3600  # SPEC.md: message TTL 14 d


class QueueError(Exception):
    """A queue operation was refused; the message names the queue and the reason."""


class QueueConfigurationError(QueueError):
    """The queue settings are unusable (unknown backend, malformed connection string, …)."""


class QueueUnavailableError(QueueError):
    """The broker could not be reached; retrying later is the right reaction."""


class MessageLockLostError(QueueError):
    """The message cannot be settled: its lock expired and it went to another consumer, or it
    was already settled. It will be (or was) handled through its redelivery."""


@dataclass(frozen=True)
class QueueOptions:
    """Broker behaviour: implemented by the Redis adapter, entity settings on Service Bus."""

    lock_duration_s: float = 30.0
    max_delivery_count: int = 3
    duplicate_window_s: float = 600.0
    message_ttl_s: float = MESSAGE_TTL_S
    clock: Callable[[], float] = field(default=time.time, compare=False)  # epoch seconds

    def __post_init__(self) -> None:
        if self.lock_duration_s <= 0:
            raise QueueConfigurationError("lock_duration_s must be positive")
        if self.max_delivery_count < 1:
            raise QueueConfigurationError("max_delivery_count must be at least 1")
        if self.duplicate_window_s < 0 or self.message_ttl_s < 0:
            raise QueueConfigurationError("duplicate_window_s and message_ttl_s must be >= 0")


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A locked message. Settle it with the adapter that received it, exactly once."""

    message_id: str
    body: dict[str, Any]
    session_id: str | None
    delivery_count: int
    enqueued_at: datetime
    queue: str  # the entity path it came from (queue, subscription or dead-letter queue)
    dead_letter_reason: str | None = None
    handle: object = field(default=None, repr=False, compare=False)  # adapter-private


@runtime_checkable
class QueuePort(Protocol):
    async def send(
        self,
        queue: str,
        body: Mapping[str, Any],
        *,
        message_id: str,
        session_id: str | None = None,
    ) -> None:
        """Enqueue `body` (JSON-serialisable) unless `message_id` is a recent duplicate."""
        ...

    async def publish(self, topic: str, body: Mapping[str, Any], *, message_id: str) -> None:
        """Send `body` to every subscription of `topic`."""
        ...

    async def receive(
        self,
        queue: str,
        max_messages: int = 1,
        wait_s: float = 0.0,
        *,
        subscription: str | None = None,
    ) -> list[ReceivedMessage]:
        """Up to `max_messages` locked messages, waiting up to `wait_s` for the first."""
        ...

    async def complete(self, message: ReceivedMessage) -> None:
        """Done: remove the message for good."""
        ...

    async def abandon(self, message: ReceivedMessage) -> None:
        """Give the message back for redelivery now (dead-lettered after the last delivery)."""
        ...

    async def dead_letter(
        self, message: ReceivedMessage, reason: str, description: str = ""
    ) -> None:
        """Move the message to its dead-letter queue, recording why."""
        ...

    async def queue_length(self, queue: str, *, subscription: str | None = None) -> int:
        """Active messages (waiting or locked) in a queue or subscription; for metrics/KEDA."""
        ...

    async def dead_letter_count(self, queue: str, *, subscription: str | None = None) -> int:
        """Messages in the dead-letter queue of a queue or subscription."""
        ...

    async def close(self) -> None:
        """Release connections (only those the adapter opened itself)."""
        ...


def dead_letter_queue_name(queue: str, subscription: str | None = None) -> str:
    """`<queue>/$deadletterqueue`, or `<topic>/subscriptions/<sub>/$deadletterqueue`."""
    return str(EntityPath(queue, subscription, dead_letter=True))


@dataclass(frozen=True, slots=True)
class EntityPath:
    """A queue, a topic subscription, or the dead-letter queue of either."""

    name: str
    subscription: str | None = None
    dead_letter: bool = False

    @classmethod
    def parse(cls, queue: str, subscription: str | None = None) -> EntityPath:
        """Read Service Bus style paths (`q/$deadletterqueue`, `t/subscriptions/s/…`)."""
        name, dead_letter = queue, False
        if name.endswith(DEAD_LETTER_SUFFIX):
            name, dead_letter = name[: -len(DEAD_LETTER_SUFFIX)], True
        if SUBSCRIPTIONS_SEGMENT in name:
            name, named = name.split(SUBSCRIPTIONS_SEGMENT, 1)
            if subscription not in (None, named):
                raise QueueError(f"{queue!r} names subscription {named!r}, not {subscription!r}")
            subscription = named
        for part in (name, subscription):
            if part is not None and (not part or any(c in part for c in "{}/ ")):
                raise QueueError(f"invalid queue name {queue!r}: empty, or contains {{ }} / space")
        return cls(name, subscription, dead_letter)

    def __str__(self) -> str:
        path = self.name
        if self.subscription is not None:
            path += SUBSCRIPTIONS_SEGMENT + self.subscription
        return path + DEAD_LETTER_SUFFIX if self.dead_letter else path


def subject_of(body: Mapping[str, Any]) -> str | None:
    """A message's subject: its body's `type` (an event's kind), which subscription rules test."""
    value = body.get("type")
    return value if isinstance(value, str) else None


class Topology:
    """Which names are topics and which subscriptions each has: checked before any broker call."""

    def __init__(self, topics: Topics) -> None:
        self.rules = {
            topic: tuple(s if isinstance(s, Subscription) else Subscription(s) for s in subs)
            for topic, subs in topics.items()
        }
        self.topics = {topic: tuple(s.name for s in subs) for topic, subs in self.rules.items()}

    def sendable(self, queue: str) -> EntityPath:
        entity = EntityPath.parse(queue)
        if entity.dead_letter or entity.subscription is not None:
            raise QueueError(f"cannot send to {queue!r}: send to a queue, publish to a topic")
        if entity.name in self.topics:
            raise QueueError(f"{queue!r} is a topic: use publish()")
        return entity

    def subscriptions_of(self, topic: str) -> tuple[str, ...]:
        if topic not in self.topics:
            raise QueueError(f"unknown topic {topic!r}; declared topics: {sorted(self.topics)}")
        return self.topics[topic]

    def subscribers(self, topic: str, body: Mapping[str, Any]) -> tuple[str, ...]:
        """The subscriptions of `topic` whose rule accepts `body`'s subject."""
        self.subscriptions_of(topic)
        subject = subject_of(body)
        return tuple(s.name for s in self.rules[topic] if s.accepts(subject))

    def receivable(self, queue: str, subscription: str | None = None) -> EntityPath:
        entity = EntityPath.parse(queue, subscription)
        if entity.subscription is None:
            if entity.name in self.topics:
                raise QueueError(f"{entity.name!r} is a topic: pass subscription=…")
        elif entity.subscription not in self.subscriptions_of(entity.name):
            raise QueueError(
                f"unknown subscription {entity.subscription!r} of topic {entity.name!r}; "
                f"declared: {list(self.topics[entity.name])}"
            )
        return entity


def encode_body(queue: str, body: Mapping[str, Any]) -> bytes:
    """JSON bytes of a message body; a clear error for bodies that are not JSON objects."""
    if not isinstance(body, Mapping):
        raise TypeError(f"message body for {queue!r} must be a JSON object (dict), not {body!r}")
    try:
        return orjson.dumps(body if isinstance(body, dict) else dict(body))
    except TypeError as exc:
        raise TypeError(f"message body for {queue!r} is not JSON-serialisable: {exc}") from exc


def decode_body(raw: bytes | str) -> dict[str, Any]:
    """The body dict; ValueError when the stored bytes are not a JSON object."""
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"message body is JSON but not an object: {type(value).__name__}")
    return value


def check_message_id(message_id: str, session_id: str | None) -> None:
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("message_id must be a non-empty string (it drives duplicate detection)")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise ValueError("session_id must be a non-empty string or None")

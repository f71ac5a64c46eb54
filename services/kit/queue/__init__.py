"""The queue port and its adapters (Redis Streams; Azure Service Bus, loaded on first use).

queue = build_queue(settings, redis)
await queue.send(AI_SCHEDULE_QUEUE, {"trip_id": …}, message_id=request_id, session_id=trip_id)
for message in await queue.receive(AI_SCHEDULE_QUEUE, max_messages=4, wait_s=5):
    ...; await queue.complete(message)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.kit.queue.factory import QueueSettings, build_queue
from services.kit.queue.port import (
    AI_SCHEDULE_QUEUE,
    DEFAULT_TOPICS,
    LOCATION_SEARCH_QUEUE,
    MALFORMED_BODY_REASON,
    MAX_DELIVERY_REASON,
    MESSAGE_TTL_S,
    NOTIFICATION_QUEUE,
    TRIP_EVENTS_SUBSCRIPTIONS,
    TRIP_EVENTS_TOPIC,
    TRIP_SYNC_SUBJECTS,
    TRIP_SYNC_SUBSCRIPTION,
    EntityPath,
    MessageLockLostError,
    QueueConfigurationError,
    QueueError,
    QueueOptions,
    QueuePort,
    QueueUnavailableError,
    ReceivedMessage,
    Subscription,
    Topics,
    dead_letter_queue_name,
)
from services.kit.queue.redis_streams import RedisStreamsQueue

if TYPE_CHECKING:
    from services.kit.queue.servicebus import ServiceBusQueue
    from services.kit.queue.servicebus_connection import ServiceBusConnection

__all__ = [
    "AI_SCHEDULE_QUEUE",
    "DEFAULT_TOPICS",
    "LOCATION_SEARCH_QUEUE",
    "MALFORMED_BODY_REASON",
    "MAX_DELIVERY_REASON",
    "MESSAGE_TTL_S",
    "NOTIFICATION_QUEUE",
    "TRIP_EVENTS_SUBSCRIPTIONS",
    "TRIP_EVENTS_TOPIC",
    "TRIP_SYNC_SUBJECTS",
    "TRIP_SYNC_SUBSCRIPTION",
    "EntityPath",
    "MessageLockLostError",
    "QueueConfigurationError",
    "QueueError",
    "QueueOptions",
    "QueuePort",
    "QueueSettings",
    "QueueUnavailableError",
    "ReceivedMessage",
    "RedisStreamsQueue",
    "ServiceBusConnection",
    "ServiceBusQueue",
    "Subscription",
    "Topics",
    "build_queue",
    "dead_letter_queue_name",
]


def __getattr__(name: str) -> Any:
    # The Azure SDK takes a while to import; only code that uses Service Bus pays for it.
    if name == "ServiceBusQueue":
        from services.kit.queue.servicebus import ServiceBusQueue

        return ServiceBusQueue
    if name == "ServiceBusConnection":
        from services.kit.queue.servicebus_connection import ServiceBusConnection

        return ServiceBusConnection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

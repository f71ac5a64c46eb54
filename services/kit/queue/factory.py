"""Build the configured queue adapter from settings (`TRIPGEN_QUEUE_BACKEND`, …)."""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr
from redis.asyncio import Redis

from services.kit.queue.port import (
    DEFAULT_TOPICS,
    QueueConfigurationError,
    QueueOptions,
    QueuePort,
    Topics,
)
from services.kit.queue.redis_streams import RedisStreamsQueue


class QueueSettings(Protocol):
    """The settings fields the factory reads (`services.kit.settings.ServiceSettings` has them)."""

    @property
    def queue_backend(self) -> str: ...

    @property
    def redis_url(self) -> str: ...

    @property
    def servicebus_connection_string(self) -> SecretStr | str | None: ...


def build_queue(
    settings: QueueSettings,
    redis: Redis | None = None,
    *,
    options: QueueOptions | None = None,
    topics: Topics = DEFAULT_TOPICS,
) -> QueuePort:
    """The adapter for `settings.queue_backend`: "redis" (reusing `redis` when given, else a
    client of its own for `settings.redis_url`) or "servicebus" (from the connection string)."""
    backend = settings.queue_backend
    if backend == "redis":
        if redis is not None:
            return RedisStreamsQueue(redis, options=options, topics=topics)
        return RedisStreamsQueue.from_url(settings.redis_url, options=options, topics=topics)
    if backend == "servicebus":
        secret = settings.servicebus_connection_string
        connection_string = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not connection_string:
            raise QueueConfigurationError(
                "queue backend 'servicebus' needs a connection string: "
                "set TRIPGEN_SERVICEBUS_CONNECTION_STRING"
            )
        # Imported here so services on Redis never load the Azure SDK.
        from services.kit.queue.servicebus import ServiceBusQueue

        return ServiceBusQueue.from_connection_string(
            connection_string, options=options, topics=topics
        )
    raise QueueConfigurationError(
        f"unknown queue backend {backend!r}: set TRIPGEN_QUEUE_BACKEND to 'redis' or 'servicebus'"
    )

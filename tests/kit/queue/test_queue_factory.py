"""`build_queue`: the adapter chosen by settings, with clear errors for unusable settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from services.kit.queue import (
    QueueConfigurationError,
    QueueOptions,
    RedisStreamsQueue,
    build_queue,
)
from services.kit.settings import ServiceSettings

EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)


async def test_redis_backend_reuses_the_services_client() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0")  # never contacted
    queue = build_queue(ServiceSettings(queue_backend="redis"), client)
    assert isinstance(queue, RedisStreamsQueue)
    await queue.close()
    await client.aclose()


async def test_redis_backend_without_a_client_opens_its_own() -> None:
    settings = ServiceSettings(queue_backend="redis", redis_url="redis://127.0.0.1:1/0")
    queue = build_queue(settings, options=QueueOptions(lock_duration_s=5))
    assert isinstance(queue, RedisStreamsQueue)
    await queue.close()  # closes the client it opened


async def test_servicebus_backend_from_the_emulator_string() -> None:
    from services.kit.queue.servicebus import ServiceBusQueue

    settings = ServiceSettings(
        queue_backend="servicebus", servicebus_connection_string=SecretStr(EMULATOR)
    )
    queue = build_queue(settings)
    assert isinstance(queue, ServiceBusQueue)
    await queue.close()


def test_servicebus_backend_needs_a_connection_string() -> None:
    with pytest.raises(QueueConfigurationError, match="TRIPGEN_SERVICEBUS_CONNECTION_STRING"):
        build_queue(ServiceSettings(queue_backend="servicebus"))


def test_unknown_backend_is_named() -> None:
    class Settings:
        queue_backend = "rabbitmq"
        redis_url = "redis://127.0.0.1:1/0"
        servicebus_connection_string = None

    with pytest.raises(QueueConfigurationError, match="'rabbitmq'"):
        build_queue(Settings())

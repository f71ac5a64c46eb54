"""The Service Bus adapter, as far as it can be exercised without a Service Bus.

No namespace or emulator is reachable here (no network, and the emulator image cannot be pulled),
so the contract suite cannot run against it. What is checked instead: connection-string parsing
(Azure and emulator forms) against the SDK's own client construction; message mapping both ways,
with received messages decoded by the SDK from real AMQP bytes; and which SDK calls the adapter
makes — receivers, sessions, settlement, error translation — through fake client objects.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusReceivedMessage,
    ServiceBusSubQueue,
    parse_connection_string,
)
from azure.servicebus import exceptions as sb_errors
from azure.servicebus._pyamqp._encode import encode_payload
from azure.servicebus._pyamqp.message import Header, Message, Properties
from azure.servicebus._pyamqp.types import TYPE, VALUE, AMQPTypes
from azure.servicebus.aio import ServiceBusClient

from services.kit.queue import (
    MALFORMED_BODY_REASON,
    MESSAGE_TTL_S,
    EntityPath,
    MessageLockLostError,
    QueueConfigurationError,
    QueueError,
    QueuePort,
    QueueUnavailableError,
)
from services.kit.queue.servicebus import ServiceBusQueue
from services.kit.queue.servicebus_connection import ServiceBusConnection
from services.kit.queue.servicebus_messages import outgoing_message, to_received_message

SECRET = "c2VjcmV0LWtleS12YWx1ZQ=="
AZURE = (
    "Endpoint=sb://tripgen-prod.servicebus.windows.net/;"
    f"SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={SECRET}"
)
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)


# --------------------------------------------------------------------------- connection strings


def test_azure_connection_string() -> None:
    connection = ServiceBusConnection.parse(AZURE)
    assert connection.host == "tripgen-prod.servicebus.windows.net"
    assert connection.port is None
    assert connection.shared_access_key_name == "RootManageSharedAccessKey"
    assert connection.shared_access_key == SECRET
    assert not connection.use_development_emulator
    sdk = parse_connection_string(connection.to_sdk_string())
    assert sdk.fully_qualified_namespace == "tripgen-prod.servicebus.windows.net"
    assert sdk.shared_access_key == SECRET


def test_emulator_connection_string() -> None:
    connection = ServiceBusConnection.parse(EMULATOR)
    assert (connection.host, connection.port) == ("localhost", None)
    assert connection.use_development_emulator
    assert connection.to_sdk_string().endswith(";UseDevelopmentEmulator=true")


async def test_sdk_client_from_emulator_string_uses_plain_amqp_and_keeps_the_port() -> None:
    # "True" would be read as false by the SDK's own parser; ours hands it over canonical.
    raw = EMULATOR.replace("sb://localhost", "sb://127.0.0.1:5673").replace("=true", "=True")
    connection = ServiceBusConnection.parse(raw)
    assert connection.use_development_emulator
    client = ServiceBusClient.from_connection_string(connection.to_sdk_string())
    try:
        assert client.fully_qualified_namespace == "127.0.0.1:5673"
        assert client._config.use_tls is False  # the emulator speaks AMQP without TLS
    finally:
        await client.close()


async def test_sdk_client_from_azure_string_uses_tls() -> None:
    client = ServiceBusClient.from_connection_string(
        ServiceBusConnection.parse(AZURE).to_sdk_string()
    )
    try:
        assert client.fully_qualified_namespace == "tripgen-prod.servicebus.windows.net"
        assert client._config.use_tls is True
    finally:
        await client.close()


def test_shared_access_signature_form() -> None:
    signature = "SharedAccessSignature sr=sb%3a%2f%2fns&sig=abc%3d&se=1900000000&skn=send"
    connection = ServiceBusConnection.parse(
        f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessSignature={signature}"
    )
    assert connection.shared_access_signature == signature
    assert f"SharedAccessSignature={signature}" in connection.to_sdk_string()


@pytest.mark.parametrize(
    ("connection_string", "complaint"),
    [
        ("", "empty"),
        (" ; ", "empty"),
        (f"SharedAccessKeyName=x;SharedAccessKey={SECRET}", "no Endpoint"),
        (AZURE.replace("sb://", "https://"), "sb://<host>"),
        (AZURE.replace(".net/", ".net:99999/"), "bad port"),
        ("Endpoint=sb://ns/;SharedAccessKeyName=x", "both SharedAccessKeyName and"),
        ("Endpoint=sb://ns/", "needs SharedAccessKeyName"),
        (AZURE + ";SharedAccessSignature=sig", "both SharedAccessKey and"),
        (AZURE + ";EntityPath=ai-schedule-generation", "EntityPath"),
        (AZURE + ";UseDevelopmentEmulator=maybe", "true or false"),
        (AZURE + ";garbage", "not Key=Value"),
    ],
)
def test_bad_connection_strings_are_explained(connection_string: str, complaint: str) -> None:
    with pytest.raises(QueueConfigurationError, match=complaint) as caught:
        ServiceBusConnection.parse(connection_string)
    assert SECRET not in str(caught.value)


def test_the_key_stays_out_of_repr() -> None:
    assert SECRET not in repr(ServiceBusConnection.parse(AZURE))


# --------------------------------------------------------------------------- message mapping


def wire_message(
    body: bytes,
    *,
    message_id: str = "m1",
    session_id: str | None = None,
    header_delivery_count: int = 0,
    dead_letter_reason: str | None = None,
    enqueued_ms: int | None = None,
) -> ServiceBusReceivedMessage:
    """A received message as the SDK decodes it from the AMQP bytes the broker sends."""
    enqueued = enqueued_ms or int(time.time() * 1000)
    annotations: dict[str | bytes, Any] = {
        b"x-opt-enqueued-time": {TYPE: AMQPTypes.timestamp, VALUE: enqueued},
        b"x-opt-locked-until": {TYPE: AMQPTypes.timestamp, VALUE: enqueued + 30_000},
        b"x-opt-sequence-number": {TYPE: AMQPTypes.long, VALUE: 1},
    }
    payload = Message(
        header=Header(delivery_count=header_delivery_count),
        message_annotations=annotations,
        properties=Properties(
            message_id=message_id, group_id=session_id, content_type="application/json"
        ),
        application_properties=(
            {"DeadLetterReason": dead_letter_reason} if dead_letter_reason else None
        ),
        data=[body],
    )
    encoded = bytearray()
    encode_payload(encoded, payload)
    return ServiceBusReceivedMessage.from_bytes(bytes(encoded))


def test_outgoing_message_carries_id_session_json_and_ttl() -> None:
    message = outgoing_message(
        EntityPath("ai-schedule-generation"),
        {"trip_id": "t1", "days": 3},
        message_id="req-1",
        session_id="t1",
        ttl_s=MESSAGE_TTL_S,
    )
    assert message.message_id == "req-1"
    assert message.session_id == "t1"
    assert message.content_type == "application/json"
    assert message.time_to_live == timedelta(days=14)
    assert orjson.loads(b"".join(message.body)) == {"trip_id": "t1", "days": 3}


def test_an_event_carries_its_type_as_the_subject_subscription_rules_filter_on() -> None:
    event = {"type": "schedule.ready", "schedule_id": "s1"}
    message = outgoing_message(
        EntityPath("trip-events"), event, message_id="e1", session_id=None, ttl_s=MESSAGE_TTL_S
    )
    assert message.subject == "schedule.ready"  # sys.Label in a subscription's SQL filter
    untyped = outgoing_message(
        EntityPath("q"), {"trip_id": "t1"}, message_id="m1", session_id=None, ttl_s=0
    )
    assert untyped.subject is None


def test_received_message_mapping() -> None:
    enqueued = int(datetime(2026, 5, 1, 9, 30, tzinfo=UTC).timestamp() * 1000)
    wire = wire_message(
        b'{"trip_id": "t1"}', message_id="req-1", session_id="t1", enqueued_ms=enqueued
    )
    message = to_received_message(EntityPath("ai-schedule-generation"), wire, {"x": 1}, "h")
    assert message.message_id == "req-1"
    assert message.session_id == "t1"
    assert message.delivery_count == 1  # AMQP header 0 = first delivery
    assert message.enqueued_at == datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    assert message.queue == "ai-schedule-generation"
    assert message.dead_letter_reason is None
    assert message.handle == "h"


def test_delivery_count_and_dead_letter_reason_from_the_wire() -> None:
    wire = wire_message(b"{}", header_delivery_count=2, dead_letter_reason="UnknownTrip")
    message = to_received_message(EntityPath("q", dead_letter=True), wire, {}, None)
    assert message.delivery_count == 3
    assert message.dead_letter_reason == "UnknownTrip"
    assert message.queue == "q/$deadletterqueue"


# --------------------------------------------------------------------------- adapter calls


class FakeReceiver:
    def __init__(self, batch: list[ServiceBusReceivedMessage], kwargs: dict[str, Any]) -> None:
        self.batch = batch
        self.kwargs = kwargs
        self.settled: list[tuple[str, ServiceBusReceivedMessage, dict[str, Any]]] = []
        self.closed = False
        self.open_error: Exception | None = None
        self.settle_error: Exception | None = None
        self.waits: list[float | None] = []

    async def __aenter__(self) -> FakeReceiver:
        if self.open_error is not None:
            raise self.open_error
        return self

    async def receive_messages(
        self, max_message_count: int = 1, max_wait_time: float | None = None
    ) -> list[ServiceBusReceivedMessage]:
        self.waits.append(max_wait_time)
        taken, self.batch = self.batch[:max_message_count], self.batch[max_message_count:]
        return taken

    async def _settle(self, op: str, message: ServiceBusReceivedMessage, **kw: Any) -> None:
        if self.settle_error is not None:
            raise self.settle_error
        self.settled.append((op, message, kw))

    async def complete_message(self, message: ServiceBusReceivedMessage) -> None:
        await self._settle("complete", message)

    async def abandon_message(self, message: ServiceBusReceivedMessage) -> None:
        await self._settle("abandon", message)

    async def dead_letter_message(
        self, message: ServiceBusReceivedMessage, reason: str | None = None, **kw: Any
    ) -> None:
        await self._settle("dead_letter", message, reason=reason, **kw)

    async def close(self) -> None:
        self.closed = True


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.error: Exception | None = None
        self.closed = False

    async def send_messages(self, message: Any) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(message)

    async def close(self) -> None:
        self.closed = True


class FakeClient:
    """Records which senders and receivers the adapter asks the SDK client for."""

    def __init__(self) -> None:
        self.senders: dict[tuple[str, str], FakeSender] = {}
        self.receivers: list[FakeReceiver] = []
        self.next_batch: list[ServiceBusReceivedMessage] = []
        self.next_open_error: Exception | None = None
        self.closed = False

    def _sender(self, kind: str, name: str) -> FakeSender:
        return self.senders.setdefault((kind, name), FakeSender())

    def get_queue_sender(self, name: str) -> FakeSender:
        return self._sender("queue", name)

    def get_topic_sender(self, name: str) -> FakeSender:
        return self._sender("topic", name)

    def _receiver(self, **kwargs: Any) -> FakeReceiver:
        receiver = FakeReceiver(self.next_batch, kwargs)
        receiver.open_error, self.next_open_error = self.next_open_error, None
        self.next_batch = []
        self.receivers.append(receiver)
        return receiver

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> FakeReceiver:
        return self._receiver(queue=queue_name, **kwargs)

    def get_subscription_receiver(
        self, topic_name: str, subscription_name: str, **kwargs: Any
    ) -> FakeReceiver:
        return self._receiver(topic=topic_name, subscription=subscription_name, **kwargs)

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def adapter(client: FakeClient) -> ServiceBusQueue:
    return ServiceBusQueue(client, owns_client=True)  # type: ignore[arg-type]


def test_adapter_satisfies_the_port(adapter: ServiceBusQueue) -> None:
    assert isinstance(adapter, QueuePort)


async def test_send_uses_a_cached_queue_sender(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    await adapter.send("notification", {"n": 1}, message_id="a")
    await adapter.send("notification", {"n": 2}, message_id="b")
    sender = client.senders[("queue", "notification")]
    assert [m.message_id for m in sender.sent] == ["a", "b"]
    assert sender.sent[0].time_to_live == timedelta(days=14)


async def test_session_queue_needs_a_session_id(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    with pytest.raises(QueueError, match="session queue"):
        await adapter.send("ai-schedule-generation", {}, message_id="a")
    await adapter.send("ai-schedule-generation", {}, message_id="a", session_id="trip-1")
    assert client.senders[("queue", "ai-schedule-generation")].sent[0].session_id == "trip-1"


async def test_publish_goes_to_the_topic_sender(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    await adapter.publish("trip-events", {"event": "trip.created"}, message_id="e1")
    assert client.senders[("topic", "trip-events")].sent[0].message_id == "e1"
    with pytest.raises(QueueError, match="is a topic"):
        await adapter.send("trip-events", {}, message_id="e2")


async def test_receive_and_settle_on_a_plain_queue(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    wires = [wire_message(b'{"n": %d}' % n, message_id=f"m{n}") for n in range(3)]
    client.next_batch = wires
    messages = await adapter.receive("notification", max_messages=3, wait_s=0)
    [receiver] = client.receivers
    assert receiver.kwargs == {"queue": "notification", "sub_queue": None}
    assert receiver.waits == [0.1]  # Service Bus refuses 0: the floor applies
    assert [m.body for m in messages] == [{"n": 0}, {"n": 1}, {"n": 2}]
    await adapter.complete(messages[0])
    await adapter.abandon(messages[1])
    await adapter.dead_letter(messages[2], "UnknownTrip", "trip t9 does not exist")
    assert [(op, wire.message_id, kw) for op, wire, kw in receiver.settled] == [
        ("complete", "m0", {}),
        ("abandon", "m1", {}),
        (
            "dead_letter",
            "m2",
            {"reason": "UnknownTrip", "error_description": "trip t9 does not exist"},
        ),
    ]
    await adapter.receive("notification")
    assert len(client.receivers) == 1  # the receiver is reused
    assert not receiver.closed


async def test_session_receive_holds_the_session_until_settled(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    client.next_batch = [wire_message(b"{}", message_id="a0", session_id="trip-A")]
    [message] = await adapter.receive("ai-schedule-generation", max_messages=5, wait_s=2)
    [receiver] = client.receivers
    assert receiver.kwargs == {
        "queue": "ai-schedule-generation",
        "session_id": NEXT_AVAILABLE_SESSION,
        "max_wait_time": 2,
    }
    assert message.session_id == "trip-A"
    assert not receiver.closed  # the session stays locked while a0 is in flight
    await adapter.complete(message)
    assert receiver.settled[0][0] == "complete"
    assert receiver.closed


async def test_no_available_session_means_no_messages(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    client.next_open_error = sb_errors.OperationTimeoutError(message="no session")
    assert await adapter.receive("ai-schedule-generation", wait_s=0.5) == []
    assert client.receivers[0].closed


async def test_dead_letter_queues_are_read_without_sessions(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    client.next_batch = [wire_message(b"{}", dead_letter_reason="MaxDeliveryCountExceeded")]
    [dead] = await adapter.receive("ai-schedule-generation/$deadletterqueue")
    assert client.receivers[0].kwargs == {
        "queue": "ai-schedule-generation",
        "sub_queue": ServiceBusSubQueue.DEAD_LETTER,
    }
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
    with pytest.raises(QueueError, match="already in"):
        await adapter.dead_letter(dead, "again")


async def test_subscriptions_have_their_own_receivers(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    await adapter.receive("trip-events", subscription="audit")
    await adapter.receive("trip-events/subscriptions/monitoring/$deadletterqueue")
    assert [r.kwargs for r in client.receivers] == [
        {"topic": "trip-events", "subscription": "audit", "sub_queue": None},
        {
            "topic": "trip-events",
            "subscription": "monitoring",
            "sub_queue": ServiceBusSubQueue.DEAD_LETTER,
        },
    ]


async def test_malformed_bodies_are_dead_lettered_not_delivered(
    adapter: ServiceBusQueue, client: FakeClient
) -> None:
    client.next_batch = [wire_message(b"not json", message_id="bad"), wire_message(b"{}")]
    messages = await adapter.receive("notification", max_messages=5)
    assert [m.message_id for m in messages] == ["m1"]
    op, wire, kw = client.receivers[0].settled[0]
    assert (op, wire.message_id, kw["reason"]) == ("dead_letter", "bad", MALFORMED_BODY_REASON)


@pytest.mark.parametrize(
    "error",
    [
        sb_errors.MessageLockLostError(message="lock lost"),
        sb_errors.SessionLockLostError(message="session lock lost"),
        sb_errors.MessageAlreadySettled(action="complete"),
    ],
)
async def test_lost_locks_become_the_ports_error(
    adapter: ServiceBusQueue, client: FakeClient, error: Exception
) -> None:
    client.next_batch = [wire_message(b"{}")]
    [message] = await adapter.receive("notification")
    client.receivers[0].settle_error = error
    with pytest.raises(MessageLockLostError, match="m1"):
        await adapter.complete(message)


@pytest.mark.parametrize(
    ("error", "expected", "text"),
    [
        (sb_errors.ServiceBusConnectionError(message="down"), QueueUnavailableError, "unreach"),
        (sb_errors.MessagingEntityNotFoundError(message="nope"), QueueError, "does not exist"),
        (sb_errors.ServiceBusAuthenticationError(message="bad"), QueueConfigurationError, "cred"),
    ],
)
async def test_broker_errors_are_translated(
    adapter: ServiceBusQueue,
    client: FakeClient,
    error: Exception,
    expected: type[Exception],
    text: str,
) -> None:
    client.get_queue_sender("notification").error = error
    with pytest.raises(expected, match=text):
        await adapter.send("notification", {}, message_id="a")


class FakeAdmin:
    def __init__(self) -> None:
        self.closed = False

    async def get_queue_runtime_properties(self, name: str) -> Any:
        return type("Props", (), {"active_message_count": 12, "dead_letter_message_count": 2})

    async def get_subscription_runtime_properties(self, topic: str, subscription: str) -> Any:
        return type("Props", (), {"active_message_count": 5, "dead_letter_message_count": 0})

    async def close(self) -> None:
        self.closed = True


async def test_lengths_come_from_runtime_properties(client: FakeClient) -> None:
    admin = FakeAdmin()
    adapter = ServiceBusQueue(client, admin=lambda: admin)  # type: ignore[arg-type, return-value]
    assert await adapter.queue_length("ai-schedule-generation") == 12
    assert await adapter.dead_letter_count("ai-schedule-generation") == 2
    assert await adapter.queue_length("trip-events", subscription="audit") == 5
    await adapter.close()
    assert admin.closed
    assert not client.closed  # not ours to close


async def test_lengths_need_the_management_api(adapter: ServiceBusQueue) -> None:
    with pytest.raises(QueueConfigurationError, match="management API"):
        await adapter.queue_length("notification")


async def test_close_releases_everything(adapter: ServiceBusQueue, client: FakeClient) -> None:
    await adapter.send("notification", {}, message_id="a")
    await adapter.receive("notification")
    await adapter.close()
    assert client.senders[("queue", "notification")].closed
    assert client.receivers[0].closed
    assert client.closed


async def test_from_connection_string_builds_without_connecting() -> None:
    adapter = ServiceBusQueue.from_connection_string(EMULATOR)
    try:
        assert isinstance(adapter, QueuePort)
    finally:
        await adapter.close()

"""The queue port on Azure Service Bus (`azure-servicebus`, asyncio) — AKS, and the emulator.

Service Bus keeps most of the contract natively; this adapter maps names and types:

- Entity properties, set on the namespace (or in the emulator's Config.json), not by this client:
  lock duration, `MaxDeliveryCount` 3, duplicate detection and its window, `RequiresSession` on
  the session queues (`ai-schedule-generation`), the `trip-events` subscriptions. The adapter
  sets per message: `message_id`, `session_id`, `content_type`, `time_to_live` (14 days).
- Delivery count and bodies: servicebus_messages maps the SDK's messages to the port's.
- Sessions: a receive on a session queue accepts the next available session and takes one message;
  the session stays locked until that message is settled, so a session's next message cannot be
  delivered meanwhile. Other receives pick other sessions.
- `queue_length` / `dead_letter_count` use the management API (runtime properties).
- Connection strings: servicebus_connection parses and checks them (the emulator's too).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from azure.servicebus import NEXT_AVAILABLE_SESSION, ServiceBusReceivedMessage, ServiceBusSubQueue
from azure.servicebus import exceptions as sb_errors
from azure.servicebus.aio import ServiceBusClient, ServiceBusReceiver, ServiceBusSender
from azure.servicebus.aio.management import ServiceBusAdministrationClient

from services.kit.queue.port import (
    AI_SCHEDULE_QUEUE,
    DEFAULT_TOPICS,
    MALFORMED_BODY_REASON,
    EntityPath,
    MessageLockLostError,
    QueueConfigurationError,
    QueueError,
    QueueOptions,
    QueueUnavailableError,
    ReceivedMessage,
    Topics,
    Topology,
    check_message_id,
    decode_body,
)
from services.kit.queue.servicebus_connection import ServiceBusConnection
from services.kit.queue.servicebus_messages import (
    as_text,
    outgoing_message,
    received_body,
    to_received_message,
)

_UNAVAILABLE = (
    sb_errors.ServiceBusConnectionError,
    sb_errors.ServiceBusCommunicationError,
    sb_errors.ServiceBusServerBusyError,
    sb_errors.OperationTimeoutError,
)
_LOCK_LOST = (
    sb_errors.MessageLockLostError,
    sb_errors.SessionLockLostError,
    sb_errors.MessageAlreadySettled,
)


@dataclass(frozen=True)
class _Handle:
    entity: EntityPath
    receiver: ServiceBusReceiver
    message: ServiceBusReceivedMessage
    release_session: bool  # a session receiver, closed once its message is settled


class ServiceBusQueue:
    """`QueuePort` on Azure Service Bus (or its emulator)."""

    def __init__(
        self,
        client: ServiceBusClient,
        *,
        options: QueueOptions | None = None,
        topics: Topics = DEFAULT_TOPICS,
        session_queues: Collection[str] = (AI_SCHEDULE_QUEUE,),
        admin: Callable[[], ServiceBusAdministrationClient] | None = None,
        owns_client: bool = False,
        min_wait_s: float = 0.1,
    ) -> None:
        self._client = client
        self._options = options or QueueOptions()
        self._topology = Topology(topics)
        self._session_queues = frozenset(session_queues)
        self._admin_factory = admin
        self._admin: ServiceBusAdministrationClient | None = None
        self._owns_client = owns_client
        self._min_wait_s = min_wait_s  # Service Bus refuses a wait of 0
        self._senders: dict[tuple[str, str], ServiceBusSender] = {}
        self._receivers: dict[EntityPath, ServiceBusReceiver] = {}

    @classmethod
    def from_connection_string(cls, connection_string: str, **kwargs: Any) -> ServiceBusQueue:
        sdk_string = ServiceBusConnection.parse(connection_string).to_sdk_string()
        return cls(
            ServiceBusClient.from_connection_string(sdk_string),
            admin=lambda: ServiceBusAdministrationClient.from_connection_string(sdk_string),
            owns_client=True,
            **kwargs,
        )

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
        check_message_id(message_id, session_id)
        if session_id is None and entity.name in self._session_queues:
            raise QueueError(f"{queue!r} is a session queue on Service Bus: pass session_id")
        message = outgoing_message(
            entity,
            body,
            message_id=message_id,
            session_id=session_id,
            ttl_s=self._options.message_ttl_s,
        )
        async with self._translate_errors(entity):
            await self._sender("queue", entity.name).send_messages(message)

    async def publish(self, topic: str, body: Mapping[str, Any], *, message_id: str) -> None:
        self._topology.subscriptions_of(topic)
        check_message_id(message_id, None)
        entity = EntityPath(topic)
        message = outgoing_message(
            entity, body, message_id=message_id, session_id=None, ttl_s=self._options.message_ttl_s
        )
        async with self._translate_errors(entity):
            await self._sender("topic", topic).send_messages(message)

    def _sender(self, kind: str, name: str) -> ServiceBusSender:
        sender = self._senders.get((kind, name))
        if sender is None:
            if kind == "topic":
                sender = self._client.get_topic_sender(name)
            else:
                sender = self._client.get_queue_sender(name)
            self._senders[(kind, name)] = sender
        return sender

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
        entity = self._topology.receivable(queue, subscription)
        wait = max(wait_s, self._min_wait_s)
        async with self._translate_errors(entity):
            if self._is_session_queue(entity):
                return await self._receive_from_next_session(entity, wait)
            receiver = self._receiver(entity)
            batch = await receiver.receive_messages(
                max_message_count=max_messages, max_wait_time=wait
            )
            received = []
            for message in batch:
                handle = _Handle(entity, receiver, message, release_session=False)
                if (mapped := await self._map(handle)) is not None:
                    received.append(mapped)
            return received

    def _is_session_queue(self, entity: EntityPath) -> bool:
        return (
            not entity.dead_letter  # a dead-letter queue is never session-enabled
            and entity.subscription is None
            and entity.name in self._session_queues
        )

    async def _receive_from_next_session(
        self, entity: EntityPath, wait: float
    ) -> list[ReceivedMessage]:
        receiver = self._client.get_queue_receiver(
            entity.name, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=wait
        )
        try:
            await receiver.__aenter__()  # accepts (locks) the next session with messages
        except sb_errors.OperationTimeoutError:
            await receiver.close()
            return []  # no session has messages
        try:
            batch = await receiver.receive_messages(max_message_count=1, max_wait_time=wait)
        except BaseException:
            await receiver.close()
            raise
        if not batch:
            await receiver.close()
            return []
        mapped = await self._map(_Handle(entity, receiver, batch[0], release_session=True))
        return [mapped] if mapped is not None else []

    async def _map(self, handle: _Handle) -> ReceivedMessage | None:
        """The port's message; a body that is not a JSON object is dead-lettered instead."""
        raw = received_body(handle.message)
        try:
            body = decode_body(raw)
        except ValueError as exc:
            if handle.entity.dead_letter:
                body = {"malformed_body": raw.decode(errors="replace")}
            else:
                await self._settle(handle, "dead_letter", MALFORMED_BODY_REASON, str(exc))
                return None
        return to_received_message(handle.entity, handle.message, body, handle)

    def _receiver(self, entity: EntityPath) -> ServiceBusReceiver:
        receiver = self._receivers.get(entity)
        if receiver is None:
            sub_queue = ServiceBusSubQueue.DEAD_LETTER if entity.dead_letter else None
            if entity.subscription is not None:
                receiver = self._client.get_subscription_receiver(
                    entity.name, entity.subscription, sub_queue=sub_queue
                )
            else:
                receiver = self._client.get_queue_receiver(entity.name, sub_queue=sub_queue)
            self._receivers[entity] = receiver
        return receiver

    # ------------------------------------------------------------------ settling

    async def complete(self, message: ReceivedMessage) -> None:
        await self._settle(self._handle(message), "complete")

    async def abandon(self, message: ReceivedMessage) -> None:
        await self._settle(self._handle(message), "abandon")

    async def dead_letter(
        self, message: ReceivedMessage, reason: str, description: str = ""
    ) -> None:
        handle = self._handle(message)
        if handle.entity.dead_letter:
            raise QueueError(
                f"message {message.message_id} is already in {message.queue}; complete it instead"
            )
        await self._settle(handle, "dead_letter", reason, description)

    def _handle(self, message: ReceivedMessage) -> _Handle:
        if not isinstance(message.handle, _Handle):
            raise QueueError(
                f"message {message.message_id} was not received through a Service Bus queue"
            )
        return message.handle

    async def _settle(
        self, handle: _Handle, op: str, reason: str = "", description: str = ""
    ) -> None:
        receiver, message = handle.receiver, handle.message
        try:
            async with self._translate_errors(handle.entity):
                if op == "complete":
                    await receiver.complete_message(message)
                elif op == "abandon":
                    await receiver.abandon_message(message)
                else:
                    await receiver.dead_letter_message(
                        message, reason=reason, error_description=description or None
                    )
        except _LOCK_LOST as exc:
            raise MessageLockLostError(
                f"cannot {op.replace('_', '-')} message {as_text(message.message_id)} of "
                f"{handle.entity}: its lock was lost or it was already settled ({exc})"
            ) from exc
        finally:
            if handle.release_session:
                with contextlib.suppress(sb_errors.ServiceBusError):
                    await receiver.close()

    # ------------------------------------------------------------------ metrics

    async def queue_length(self, queue: str, *, subscription: str | None = None) -> int:
        entity = self._topology.receivable(queue, subscription)
        properties = await self._runtime_properties(entity)
        return int(properties.active_message_count)

    async def dead_letter_count(self, queue: str, *, subscription: str | None = None) -> int:
        entity = self._topology.receivable(queue, subscription)
        properties = await self._runtime_properties(entity)
        return int(properties.dead_letter_message_count)

    async def _runtime_properties(self, entity: EntityPath) -> Any:
        if self._admin is None:
            if self._admin_factory is None:
                raise QueueConfigurationError(
                    "queue_length needs the Service Bus management API: build the adapter "
                    "with from_connection_string() or pass admin="
                )
            self._admin = self._admin_factory()
        async with self._translate_errors(entity):
            if entity.subscription is not None:
                return await self._admin.get_subscription_runtime_properties(
                    entity.name, entity.subscription
                )
            return await self._admin.get_queue_runtime_properties(entity.name)

    async def close(self) -> None:
        for closable in [*self._receivers.values(), *self._senders.values()]:
            with contextlib.suppress(sb_errors.ServiceBusError):
                await closable.close()
        self._receivers.clear()
        self._senders.clear()
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
        if self._owns_client:
            await self._client.close()

    @contextlib.asynccontextmanager
    async def _translate_errors(self, entity: EntityPath) -> AsyncIterator[None]:
        try:
            yield
        except sb_errors.MessagingEntityNotFoundError as exc:
            raise QueueError(
                f"{entity} does not exist on the Service Bus namespace "
                "(create it in Azure, or in the emulator's Config.json)"
            ) from exc
        except (
            sb_errors.ServiceBusAuthenticationError,
            sb_errors.ServiceBusAuthorizationError,
        ) as exc:
            raise QueueConfigurationError(
                f"Service Bus refused the credentials for {entity}: {exc}"
            ) from exc
        except _UNAVAILABLE as exc:
            raise QueueUnavailableError(f"Service Bus unreachable for {entity}: {exc}") from exc

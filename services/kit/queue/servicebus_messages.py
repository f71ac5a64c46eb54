"""Between the port's messages and the Service Bus SDK's: bodies, ids, delivery counts.

The SDK's delivery count is the AMQP header, which counts *earlier* failed deliveries (0 on the
first); the port counts deliveries including this one, so the mapping adds 1 (as .NET does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.servicebus import ServiceBusMessage, ServiceBusReceivedMessage

from services.kit.queue.port import EntityPath, ReceivedMessage, encode_body, subject_of


def outgoing_message(
    entity: EntityPath,
    body: Mapping[str, Any],
    *,
    message_id: str,
    session_id: str | None,
    ttl_s: float,
) -> ServiceBusMessage:
    # `subject` is what the subscription rules filter on (trip-sync: schedule outcomes only).
    return ServiceBusMessage(
        encode_body(str(entity), body),
        message_id=message_id,
        session_id=session_id,
        subject=subject_of(body),
        content_type="application/json",
        time_to_live=timedelta(seconds=ttl_s) if ttl_s else None,
    )


def received_body(message: ServiceBusReceivedMessage) -> bytes:
    """The body as bytes: a data body arrives as an iterable of byte sections."""
    body = message.body
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return b"".join(bytes(section) for section in body)


def as_text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def to_received_message(
    entity: EntityPath, message: ServiceBusReceivedMessage, body: dict[str, Any], handle: object
) -> ReceivedMessage:
    return ReceivedMessage(
        message_id=as_text(message.message_id) or "",
        body=body,
        session_id=as_text(message.session_id),
        delivery_count=(message.delivery_count or 0) + 1,
        enqueued_at=message.enqueued_time_utc or datetime.now(UTC),
        queue=str(entity),
        dead_letter_reason=message.dead_letter_reason,
        handle=handle,
    )

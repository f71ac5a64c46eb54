"""The request's correlation id: accepted from `X-Request-ID`, generated when absent."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
_current: ContextVar[str] = ContextVar("request_id", default="")


def current_request_id() -> str:
    return _current.get()


def set_request_id(value: str | None) -> str:
    """Adopt a sane incoming id (bounded, printable) or make a new one; returns the id in force."""
    rid = value if value and len(value) <= 128 and value.isprintable() else uuid.uuid4().hex
    _current.set(rid)
    return rid


def outgoing_headers() -> dict[str, str]:
    """Headers that carry the correlation id to the next service or queue message."""
    rid = _current.get()
    return {HEADER: rid} if rid else {}

"""Open and close a chaos event around steps that record no event themselves (the kind zone
outage's cordon and drain), so their fault windows are recorded too."""

from __future__ import annotations

import contextlib
from typing import Any

from chaos.context import Configuration, context_from
from chaos.events import EventNotFound, now, start_event, update_event


def begin_event(
    name: str, details: dict[str, Any] | None = None, configuration: Configuration | None = None
) -> dict[str, Any]:
    event = start_event(context_from(configuration).run_dir, name, details)
    return {"event": event.name, "started_at": event.started_at.isoformat()}


def end_event(
    name: str, recovered: bool = False, configuration: Configuration | None = None
) -> dict[str, Any]:
    """The fault is lifted (and, with `recovered`, the steady state holds again)."""
    moment = now()
    with contextlib.suppress(EventNotFound):  # a rollback after a method that never began it
        update_event(
            context_from(configuration).run_dir,
            name,
            ended_at=moment,
            recovered_at=moment if recovered else None,
        )
    return {"event": name, "ended_at": moment.isoformat()}

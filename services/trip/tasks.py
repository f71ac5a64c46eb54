"""Stopping background tasks reliably at shutdown.

A plain `cancel()` is not enough for loops that await redis-py: a cancellation that lands
while redis-py's own read timeout fires can come out as a timeout, which redis-py retries, and
the loop carries on as if never cancelled (seen in this suite: shutdown hung in the trip-sync
consumer). So each loop also checks a stop flag its owner sets first, and cancellation is
repeated until the tasks end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)


async def stop_tasks(tasks: Sequence[asyncio.Task[None]], *, grace_s: float = 1.0) -> None:
    """Cancel the tasks (again every `grace_s` while any still runs) until all have ended."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=grace_s)
        if pending:
            log.warning("still stopping %s", ", ".join(t.get_name() for t in pending))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s ended with an error", task.get_name(), exc_info=task.exception())

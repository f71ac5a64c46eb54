"""The outbox relay: publishes committed outbox rows to the queue port, in order, at least once.

The worker writes a schedule's result and the messages announcing it in one transaction, so an
event is never lost when Redis blinks between the two, and a redelivered message for a finished
schedule can simply be completed: its events are already in the outbox. A row is marked sent
after the queue accepted it; a crash in between re-sends it and duplicate detection (by
message_id) absorbs the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from psycopg import Error as DatabaseError
from psycopg_pool import PoolTimeout

from services.ai import background
from services.ai.repository import OutboxMessage, ScheduleRepository
from services.kit.metrics import ServiceMetrics
from services.kit.queue import QueuePort

log = logging.getLogger(__name__)
_PURGE_EVERY_S = 300.0
_SHUTDOWN_FLUSH_S = 2.0


class OutboxRelay:
    def __init__(
        self,
        repo: ScheduleRepository,
        queue: QueuePort,
        metrics: ServiceMetrics,
        *,
        interval_s: float,
        batch_size: int,
        retention_s: int,
    ) -> None:
        self.repo = repo
        self.queue = queue
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.retention_s = retention_s
        self._wake = asyncio.Event()
        self._last_purge = 0.0
        self.relayed = metrics.counter(
            "outbox_relayed_total", "Outbox messages handed to the queue", ("entity",)
        )
        self.stalls = metrics.counter(
            "outbox_relay_stalls_total", "Relay passes stopped by an error", ("cause",)
        )

    def wake(self) -> None:
        """Relay now rather than at the next interval (called after a commit that wrote rows)."""
        self._wake.set()

    async def relay_once(self) -> tuple[int, bool]:
        """Publish unsent rows in order until one fails: (published, more may be waiting)."""
        published: list[int] = []
        async with self.repo.unsent_outbox(self.batch_size) as batch:
            for row in batch.rows:
                try:
                    await self._publish(row.message)
                except Exception as exc:  # the adapter's own errors: stop and keep the order
                    self.stalls.labels("queue").inc()
                    log.warning(
                        "outbox relay paused, queue refused %s: %r", row.message.entity, exc
                    )
                    break
                published.append(row.id)
                self.relayed.labels(row.message.entity).inc()
            await batch.mark_sent(published)
        return len(published), len(published) == self.batch_size

    async def _publish(self, message: OutboxMessage) -> None:
        if message.kind == "topic":
            await self.queue.publish(message.entity, message.body, message_id=message.message_id)
        else:
            await self.queue.send(
                message.entity,
                message.body,
                message_id=message.message_id,
                session_id=message.session_id,
            )

    async def _purge(self) -> None:
        if time.monotonic() - self._last_purge < _PURGE_EVERY_S:
            return
        self._last_purge = time.monotonic()
        removed = await self.repo.purge_sent_outbox(self.retention_s)
        if removed:
            log.info("outbox: removed %d sent rows", removed)

    async def run(self) -> None:
        """Relay until cancelled; database and queue outages only delay it."""
        while True:
            self._wake.clear()  # a wake during the pass below triggers one more pass
            more = False
            try:
                _, more = await self.relay_once()
                await self._purge()
            except (DatabaseError, PoolTimeout) as exc:
                self.stalls.labels("database").inc()
                log.warning("outbox relay paused, database unavailable: %r", exc)
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxRelay]:
        task = asyncio.create_task(self.run(), name="ai-outbox-relay")
        try:
            yield self
        finally:
            await background.stop(task)
            # Rows committed by the last generations go now rather than at the next start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.relay_once(), _SHUTDOWN_FLUSH_S)

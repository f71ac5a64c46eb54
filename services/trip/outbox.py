"""The outbox relay: publishes committed outbox rows to the queue port, in order, at least once.

A request only writes its messages to the `outbox` table, in the transaction of the state change
they announce, so no event is lost when Redis blinks: the relay keeps the rows until the queue
takes them. A row is marked sent after the queue accepted it; a crash in between re-sends it,
and the queue's duplicate detection (by message_id) absorbs the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from psycopg import Error as DatabaseError
from psycopg_pool import PoolTimeout

from services.kit.metrics import ServiceMetrics
from services.kit.queue import QueuePort
from services.trip.repository import OutboxMessage, TripRepository
from services.trip.tasks import stop_tasks

log = logging.getLogger(__name__)
_PURGE_EVERY_S = 300.0
_SHUTDOWN_FLUSH_S = 2.0


class OutboxRelay:
    def __init__(
        self,
        repo: TripRepository,
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
        self._stopping = False
        self._paused: float | None = None  # when the current outage began
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
                    self._pause(f"the queue refused {row.message.entity}: {exc!r}")
                    break
                published.append(row.id)
                self.relayed.labels(row.message.entity).inc()
            await batch.mark_sent(published)
        if published:
            self._resume()
        full = len(published) == self.batch_size
        return len(published), full

    def _pause(self, reason: str) -> None:
        # One warning per outage, not one per pass (a pass runs every interval while it lasts).
        if self._paused is None:
            log.warning("outbox relay paused, %s; retrying every %.1fs", reason, self.interval_s)
        self._paused = self._paused or time.monotonic()

    def _resume(self) -> None:
        if self._paused is not None:
            log.info("outbox relay resumed after %.1fs", time.monotonic() - self._paused)
            self._paused = None

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
        """Relay until stopped; database and queue outages only delay it."""
        while not self._stopping:
            self._wake.clear()  # a wake during the pass below triggers one more pass
            more = False
            try:
                _, more = await self.relay_once()
                await self._purge()
            except (DatabaseError, PoolTimeout) as exc:
                self.stalls.labels("database").inc()
                self._pause(f"the database is unavailable: {exc!r}")
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxRelay]:
        task = asyncio.create_task(self.run(), name="trip-outbox-relay")
        try:
            yield self
        finally:
            self._stopping = True
            await stop_tasks([task])
            # Rows committed by the last requests go now rather than at the next start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.relay_once(), _SHUTDOWN_FLUSH_S)

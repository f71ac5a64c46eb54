"""The transactional outbox: messages written with the state change they announce, then relayed.

A service never publishes from a request or a worker directly. It writes its messages to its own
`outbox` table (same shape in every schema that has one, see the services' migrations) with
`add_outbox`, in the transaction of the state change they announce, so no event is lost when
Redis blinks between the two. `OutboxRelay` then publishes committed rows to the queue port, in
order, at least once: a row is marked sent after the queue accepted it; a crash in between
re-sends it, and the queue's duplicate detection (by message_id) absorbs the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import Error as DatabaseError
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from services.kit.background import stop_tasks
from services.kit.db import DictConnection, DictPool, schema_of
from services.kit.metrics import ServiceMetrics
from services.kit.queue import QueuePort

log = logging.getLogger(__name__)
_PURGE_EVERY_S = 300.0
_SHUTDOWN_FLUSH_S = 2.0


@dataclass(frozen=True)
class OutboxMessage:
    """A message to publish once the transaction that wrote it commits."""

    kind: Literal["queue", "topic"]  # send to a queue, or publish on a topic
    entity: str  # the queue or topic name
    message_id: str
    body: dict[str, Any]
    session_id: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    message: OutboxMessage


def outbox_documents(messages: Sequence[OutboxMessage]) -> list[dict[str, Any]]:
    """The messages as JSON objects, in order, for `outbox_insert_from`."""
    return [
        {
            "kind": m.kind,
            "entity": m.entity,
            "message_id": m.message_id,
            "session_id": m.session_id,
            "body": m.body,
        }
        for m in messages
    ]


def outbox_insert_from(documents: str) -> str:
    """`INSERT INTO outbox …` of the messages in the jsonb array `documents` (an SQL expression
    over `outbox_documents`), in their order, for a caller that folds it into its own statement
    (a CTE beside the state change: one round trip).

    One jsonb parameter rather than five a message: psycopg's adaptation of each parameter cost
    more client CPU than PostgreSQL's reading of the same values from one document."""
    return (
        "INSERT INTO outbox (kind, entity, message_id, session_id, body)"
        " SELECT m.kind, m.entity, m.message_id, m.session_id, m.body"
        " FROM ROWS FROM (jsonb_to_recordset("
        f"{documents}) AS (kind text, entity text, message_id text, session_id text, body jsonb)"
        ") WITH ORDINALITY AS m(kind, entity, message_id, session_id, body, n)"
        " ORDER BY m.n"
    )


_ADD_OUTBOX = outbox_insert_from("%s::jsonb")


async def add_outbox(conn: DictConnection, messages: Sequence[OutboxMessage]) -> None:
    """Write messages on `conn`, in the caller's transaction: they commit (or not) with it."""
    if not messages:
        return
    # One statement for all: executemany would enter pipeline mode, which costs more than the
    # single round trip for the one or two messages a state change writes.
    await conn.execute(_ADD_OUTBOX, (Jsonb(outbox_documents(messages)),))


class OutboxBatch:
    """Unsent outbox rows, held by one relay inside a transaction until it marks them sent."""

    def __init__(self, conn: DictConnection, rows: list[OutboxRow]) -> None:
        self._conn = conn
        self.rows = rows

    async def mark_sent(self, ids: Sequence[int]) -> None:
        if ids:
            await self._conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY(%s)", (list(ids),)
            )


class OutboxStore:
    """The relay's side of a service's `outbox` table (the pool's search_path picks the schema)."""

    def __init__(self, pool: DictPool, service: str) -> None:
        self.pool = pool
        self.service = service
        # One relay at a time across replicas publishes, so each session's messages leave in
        # commit order. The key is per schema: services sharing a database don't block each other.
        self._lock_key = zlib.crc32(f"{schema_of(service)}.outbox.relay".encode())

    @contextlib.asynccontextmanager
    async def unsent(self, limit: int) -> AsyncIterator[OutboxBatch]:
        """The oldest unsent rows, in order; empty while another replica's relay holds them.

        Rows marked sent inside the block are committed when it ends without an error.
        """
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s) AS locked", (self._lock_key,)
            )
            locked = await cur.fetchone()
            if not locked or not locked["locked"]:
                yield OutboxBatch(conn, [])
                return
            cur = await conn.execute(
                "SELECT id, kind, entity, message_id, session_id, body FROM outbox"
                " WHERE sent_at IS NULL ORDER BY id LIMIT %s",
                (limit,),
            )
            rows = [
                OutboxRow(
                    int(r["id"]),
                    OutboxMessage(
                        r["kind"], r["entity"], r["message_id"], r["body"], r["session_id"]
                    ),
                )
                for r in await cur.fetchall()
            ]
            yield OutboxBatch(conn, rows)

    async def purge_sent(self, older_than_s: int) -> int:
        """Delete rows sent more than `older_than_s` ago (kept that long for investigations)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => %s)",
                (older_than_s,),
            )
            return cur.rowcount

    async def unsent_count(self) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
            row = await cur.fetchone()
            return int(row["n"]) if row else 0


class OutboxRelay:
    """Publishes a service's committed outbox rows, in order, until stopped."""

    def __init__(
        self,
        store: OutboxStore,
        queue: QueuePort,
        metrics: ServiceMetrics,
        *,
        interval_s: float,
        batch_size: int,
        retention_s: int,
        linger_s: float = 0.0,
    ) -> None:
        self.store = store
        self.queue = queue
        self.interval_s = interval_s
        self.linger_s = linger_s
        self.batch_size = batch_size
        self.retention_s = retention_s
        self._wake = asyncio.Event()
        self._last_purge = 0.0
        # Checked by the loop as well as cancelling it: redis-py can swallow a cancellation.
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
        refused = False
        async with self.store.unsent(self.batch_size) as batch:
            for row in batch.rows:
                try:
                    await self._publish(row.message)
                except Exception as exc:  # the adapter's own errors: stop and keep the order
                    self.stalls.labels("queue").inc()
                    self._pause(f"the queue refused {row.message.entity}: {exc!r}")
                    refused = True
                    break
                published.append(row.id)
                self.relayed.labels(row.message.entity).inc()
            await batch.mark_sent(published)
        if not refused:  # database and queue both answered: any outage is over
            self._resume()
        return len(published), len(published) == self.batch_size

    def _pause(self, reason: str) -> None:
        # One warning per outage, not one per pass (a pass runs every interval while it lasts).
        if self._paused is None:
            log.warning(
                "%s outbox relay paused, %s; retrying every %.1fs",
                self.store.service,
                reason,
                self.interval_s,
            )
            self._paused = time.monotonic()

    def _resume(self) -> None:
        if self._paused is not None:
            log.info(
                "%s outbox relay resumed after %.1fs",
                self.store.service,
                time.monotonic() - self._paused,
            )
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
        removed = await self.store.purge_sent(self.retention_s)
        if removed:
            log.info("%s outbox: removed %d sent rows", self.store.service, removed)

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
                if self.linger_s and not self._stopping:
                    # Woken by a commit: let the commits of concurrent requests join this pass.
                    # A pass costs five round trips to PostgreSQL however many rows it relays;
                    # under load one per commit was a quarter of trip-service's CPU.
                    await asyncio.sleep(self.linger_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxRelay]:
        task = asyncio.create_task(self.run(), name=f"{self.store.service}-outbox-relay")
        try:
            yield self
        finally:
            # Let a pass under way finish: cancelled between the queue accepting its rows and
            # their `sent_at` committing, it would leave them for the flush below to send again.
            self._stopping = True
            self._wake.set()
            await asyncio.wait({task}, timeout=_SHUTDOWN_FLUSH_S)
            await stop_tasks([task])
            # Rows committed by the last requests or generations go now, not at the next start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.relay_once(), _SHUTDOWN_FLUSH_S)

"""Wakes requests waiting for a schedule to finish, in every trip-service replica.

`GET /api/trips/{id}/schedules/{sid}?wait_s=N` holds its answer while the schedule is pending or
running (a long poll: one request instead of a poll every few hundred milliseconds). Whichever
replica's trip-sync consumer moves the schedule, its UPDATE notifies PostgreSQL channel
`SCHEDULE_CHANNEL` with the schedule id in the same statement, so the notification goes out at
commit, to every listening session, never for a change that rolled back.

Each process keeps one listening connection. While it is down (PostgreSQL restarting or failing
over) notifications are lost, so then waiters re-read every `recheck_s`; when it comes back every
waiter is woken once to re-read what it may have missed. A wake-up is only ever a cue to read the
schedule again: the database stays the only source of its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from psycopg import AsyncConnection, Error

from services.trip.repository import SCHEDULE_CHANNEL

log = logging.getLogger(__name__)
RECONNECT_S = 1.0  # between attempts to listen again after the connection broke
RECHECK_S = 1.0  # how often a waiter re-reads while no notification can arrive


class ScheduleWatch:
    def __init__(
        self, dsn: str, *, reconnect_s: float = RECONNECT_S, recheck_s: float = RECHECK_S
    ) -> None:
        self.dsn = dsn
        self.reconnect_s = reconnect_s
        self.recheck_s = recheck_s
        self.listening = False
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, schedule_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever `schedule_id` may have changed. Enter it before reading the
        schedule, so a change committed between that read and the wait is not missed."""
        event = asyncio.Event()
        self._waiters.setdefault(schedule_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiters.get(schedule_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[schedule_id]

    async def changed(self, event: asyncio.Event, timeout_s: float) -> None:
        """Return when `event` is set (and clear it) or after `timeout_s`, or after `recheck_s`
        while not listening."""
        if not self.listening:
            timeout_s = min(timeout_s, self.recheck_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(timeout_s, 0.0))
        event.clear()

    @property
    def waiting(self) -> int:
        return sum(len(events) for events in self._waiters.values())

    def _wake(self, schedule_id: str) -> None:
        for event in self._waiters.get(schedule_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def _listen_once(self) -> None:
        async with await AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute(f"LISTEN {SCHEDULE_CHANNEL}")
            self.listening = True
            self._wake_all()  # changes made while nobody listened were not announced
            async for notice in conn.notifies():
                self._wake(notice.payload)

    async def _listen(self) -> None:
        while True:
            try:
                await self._listen_once()
            except Error as exc:
                log.warning("schedule notifications interrupted, listening again: %s", exc)
            except Exception:  # anything else must not end listening for the app's lifetime
                log.exception("schedule notifications failed, listening again")
            finally:
                if self.listening:
                    self.listening = False
                    self._wake_all()
            await asyncio.sleep(self.reconnect_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ScheduleWatch]:
        """Listen for the app's lifetime; on the way out, every waiter is woken to answer."""
        self._task = asyncio.create_task(self._listen(), name="schedule-watch")
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self.listening = False
            self._wake_all()

"""All SQL of ai-service (schema `ai_db`): schedules and the reference data (the outbox: kit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from services.ai.schemas import ScheduleStatus
from services.kit.outbox import OutboxMessage, OutboxStore, add_outbox

Row = dict[str, Any]  # the kit's pool hands out connections with dict rows
Connection = AsyncConnection[Row]
Pool = AsyncConnectionPool[Connection]

_SCHEDULE_COLUMNS = (
    "id, trip_id, requested_by, request, request_hash, status, itinerary, error, error_code,"
    " attempts, requested_at, started_at, finished_at, created_at, updated_at"
)


@dataclass(frozen=True)
class ScheduleRecord:
    id: str
    trip_id: str
    requested_by: str
    request: dict[str, Any]
    request_hash: str
    status: ScheduleStatus
    itinerary: dict[str, Any] | None
    error: str | None
    error_code: str | None
    attempts: int
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduleRecord:
        values = {k: row[k] for k in _SCHEDULE_COLUMNS.replace(" ", "").split(",")}
        return cls(
            **{
                **values,
                "id": str(row["id"]),
                "trip_id": str(row["trip_id"]),
                "requested_by": str(row["requested_by"]),
                "status": ScheduleStatus(row["status"]),
            }
        )

    def public(self) -> dict[str, Any]:
        return {
            "schedule_id": self.id,
            "trip_id": self.trip_id,
            "requested_by": self.requested_by,
            "status": self.status.value,
            "itinerary": self.itinerary,
            "error": self.error,
            "error_code": self.error_code,
            "attempts": self.attempts,
            "requested_at": self.requested_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class NewSchedule:
    """What a generation message says about its schedule."""

    id: str
    trip_id: str
    requested_by: str
    request: dict[str, Any]
    request_hash: str
    requested_at: datetime | None


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a schedule for a delivery of its message."""

    record: ScheduleRecord
    started: bool  # this delivery should generate (False: done or failed already)
    first: bool  # the row was created by this delivery


class ScheduleRepository:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.outbox = OutboxStore(pool, "ai")  # what the relay reads; writes use add_outbox

    async def get(self, schedule_id: str) -> ScheduleRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE id = %s", (schedule_id,)
            )
            row = await cur.fetchone()
        return ScheduleRecord.from_row(row) if row else None

    async def claim(self, schedule: NewSchedule, on_first: Sequence[OutboxMessage]) -> Claim:
        """Create the schedule as running, or count one more attempt of an unfinished one.

        `on_first` (the `schedule.running` event) is written only when the row is created, so
        a redelivery does not announce the start twice. A finished schedule is left as it is.
        """
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO schedules AS s (id, trip_id, requested_by, request, request_hash,"
                " status, attempts, requested_at, started_at)"
                " VALUES (%(id)s, %(trip_id)s, %(requested_by)s, %(request)s, %(hash)s,"
                " 'running', 1, %(requested_at)s, now())"
                " ON CONFLICT (id) DO UPDATE SET status = 'running', attempts = s.attempts + 1,"
                " started_at = COALESCE(s.started_at, now()), updated_at = now()"
                " WHERE s.status IN ('pending', 'running')"
                f" RETURNING {_SCHEDULE_COLUMNS}, (xmax = 0) AS inserted",
                {
                    "id": schedule.id,
                    "trip_id": schedule.trip_id,
                    "requested_by": schedule.requested_by,
                    "request": Jsonb(schedule.request),
                    "hash": schedule.request_hash,
                    "requested_at": schedule.requested_at,
                },
            )
            row = await cur.fetchone()
            if row is None:  # finished already: nothing to do for this delivery
                cur = await conn.execute(
                    f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE id = %s", (schedule.id,)
                )
                finished = await cur.fetchone()
                assert finished is not None  # the insert conflicted with it
                return Claim(ScheduleRecord.from_row(finished), started=False, first=False)
            first = bool(row["inserted"])
            if first:
                await add_outbox(conn, on_first)
            return Claim(ScheduleRecord.from_row(row), started=True, first=first)

    async def finish_done(
        self, schedule_id: str, itinerary: dict[str, Any], messages: Sequence[OutboxMessage]
    ) -> bool:
        """running → done with the itinerary, and its messages; False if it was not running."""
        return await self._finish(
            schedule_id,
            "status = 'done', itinerary = %(itinerary)s, error = NULL, error_code = NULL",
            {"itinerary": Jsonb(itinerary)},
            messages,
        )

    async def finish_failed(
        self, schedule_id: str, error: str, code: str, messages: Sequence[OutboxMessage]
    ) -> bool:
        """running → failed with the reason, and its messages; False if it was not running."""
        return await self._finish(
            schedule_id,
            "status = 'failed', error = %(error)s, error_code = %(code)s",
            {"error": error, "code": code},
            messages,
        )

    async def _finish(
        self,
        schedule_id: str,
        assignments: str,
        params: dict[str, Any],
        messages: Sequence[OutboxMessage],
    ) -> bool:
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"UPDATE schedules SET {assignments}, finished_at = now(), updated_at = now()"
                " WHERE id = %(id)s AND status = 'running'",
                {**params, "id": schedule_id},
            )
            if cur.rowcount == 0:  # another delivery finished it first
                return False
            await add_outbox(conn, messages)
            return True

    async def record_rejected(
        self,
        schedule: NewSchedule,
        error: str,
        code: str,
        messages: Sequence[OutboxMessage],
    ) -> bool:
        """Mark a schedule whose message was given up on as failed (creating it if needed), so
        nobody waits for it forever; False when it had finished already."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO schedules AS s (id, trip_id, requested_by, request, request_hash,"
                " status, error, error_code, requested_at, finished_at)"
                " VALUES (%(id)s, %(trip_id)s, %(requested_by)s, %(request)s, %(hash)s,"
                " 'failed', %(error)s, %(code)s, %(requested_at)s, now())"
                " ON CONFLICT (id) DO UPDATE SET status = 'failed', error = %(error)s,"
                " error_code = %(code)s, finished_at = now(), updated_at = now()"
                " WHERE s.status IN ('pending', 'running')",
                {
                    "id": schedule.id,
                    "trip_id": schedule.trip_id,
                    "requested_by": schedule.requested_by,
                    "request": Jsonb(schedule.request),
                    "hash": schedule.request_hash,
                    "error": error,
                    "code": code,
                    "requested_at": schedule.requested_at,
                },
            )
            if cur.rowcount == 0:
                return False
            await add_outbox(conn, messages)
            return True


class ReferenceRepository:
    """The AI reference data of migration 001 (loaded by the dev data init)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def review_stats(self) -> dict[str, tuple[float, int]]:
        """place id → (average stars, number of reviews)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT place_id, avg(stars)::float8 AS average, count(*) AS n"
                " FROM reviews GROUP BY place_id"
            )
            rows = await cur.fetchall()
        return {r["place_id"]: (float(r["average"]), int(r["n"])) for r in rows}

    async def seasonal_weights(self) -> dict[int, dict[str, float]]:
        """month → category → weight."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT month, category_weights FROM seasonal_patterns")
            rows = await cur.fetchall()
        weights: dict[int, dict[str, float]] = {}
        for r in rows:
            raw = r["category_weights"]
            if isinstance(raw, dict):
                weights[int(r["month"])] = {
                    str(k).lower(): float(v)
                    for k, v in raw.items()
                    if isinstance(v, int | float) and v >= 0
                }
        return weights

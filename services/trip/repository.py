"""All SQL of trip-service (schema `trip_db`): trips, members and schedules (the outbox: kit)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, OperationalError
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from services.kit.outbox import (
    OutboxMessage,
    OutboxStore,
    add_outbox,
    outbox_documents,
    outbox_insert_from,
)
from services.trip.schemas import MemberRole, ScheduleStatus, TripRole

_TRIP_COLUMNS = (
    "t.id, t.owner_id, t.title, t.destination_city, t.start_date, t.end_date, t.travellers,"
    " t.budget, t.pace, t.preferred_categories, t.must_visit, t.lodging_lat, t.lodging_lng,"
    " t.mode, t.wishes, t.version, t.created_at, t.updated_at"
)
_SCHEDULE_COLUMNS = (
    "s.id, s.trip_id, s.requested_by, s.status, s.itinerary, s.error, s.requested_at, s.updated_at"
)
# Columns a create or update may write, with the SQL type each JSON-shaped value is cast to;
# the whitelist also keeps anything but these names out of the statement text.
_WRITABLE: dict[str, str] = {
    "title": "text",
    "destination_city": "text",
    "start_date": "date",
    "end_date": "date",
    "travellers": "integer",
    "budget": "text",
    "pace": "text",
    "preferred_categories": "text[]",
    "must_visit": "text[]",
    "lodging_lat": "double precision",
    "lodging_lng": "double precision",
    "mode": "text",
    "wishes": "text",
}
# The caller's role on a trip, or no row when the trip is neither theirs nor shared with them.
_VISIBLE_TRIP = (
    f"SELECT {_TRIP_COLUMNS},"
    " CASE WHEN t.owner_id = %(user_id)s THEN 'owner' ELSE m.role END AS my_role"
    " FROM trips t LEFT JOIN trip_members m ON m.trip_id = t.id AND m.user_id = %(user_id)s"
    " WHERE t.id = %(trip_id)s AND (t.owner_id = %(user_id)s OR m.user_id IS NOT NULL)"
)
# One schedule of a trip the caller sees: no row = the trip is not visible to them; a row of
# nulls = visible, but it has no such schedule.
_VISIBLE_SCHEDULE = (
    f"SELECT {_SCHEDULE_COLUMNS} FROM trips t"
    " LEFT JOIN trip_members m ON m.trip_id = t.id AND m.user_id = %(user_id)s"
    " LEFT JOIN schedules s ON s.trip_id = t.id AND s.id = %(schedule_id)s"
    " WHERE t.id = %(trip_id)s AND (t.owner_id = %(user_id)s OR m.user_id IS NOT NULL)"
)
# Status ranks: an event only moves a schedule forward, so re-deliveries and late arrivals of an
# older event change nothing.
_STATUS_RANK = "CASE s.status WHEN 'pending' THEN 0 WHEN 'running' THEN 1 ELSE 2 END"
_RANK = {ScheduleStatus.RUNNING: 1, ScheduleStatus.DONE: 2, ScheduleStatus.FAILED: 2}

# PostgreSQL channel on which a moved schedule's id is announced (services.trip.schedule_watch).
SCHEDULE_CHANNEL = "trip_schedule_changed"
_OUTCOME_POLL_S = 0.25  # how often `stored_trip` asks again while no server answers

Row = dict[str, Any]  # the kit's pool hands out connections with dict rows
Connection = AsyncConnection[Row]
Pool = AsyncConnectionPool[Connection]


async def _one(cur: AsyncCursor[Row]) -> Row:
    """The row of a statement that always yields one (RETURNING after a match, an aggregate)."""
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


@dataclass(frozen=True)
class TripRecord:
    id: str
    owner_id: str
    title: str
    destination_city: str
    start_date: date
    end_date: date
    travellers: int
    budget: str
    pace: str
    preferred_categories: list[str]
    must_visit: list[str]
    lodging_lat: float | None
    lodging_lng: float | None
    mode: str
    wishes: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TripRecord:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        return cls(**{**values, "id": str(row["id"]), "owner_id": str(row["owner_id"])})

    @property
    def lodging(self) -> dict[str, float] | None:
        if self.lodging_lat is None or self.lodging_lng is None:
            return None
        return {"lat": self.lodging_lat, "lng": self.lodging_lng}

    def public(self, my_role: TripRole) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "title": self.title,
            "destination_city": self.destination_city,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "days": (self.end_date - self.start_date).days + 1,
            "travellers": self.travellers,
            "budget": self.budget,
            "pace": self.pace,
            "preferred_categories": self.preferred_categories,
            "must_visit": self.must_visit,
            "lodging": self.lodging,
            "mode": self.mode,
            "wishes": self.wishes,
            "version": self.version,
            "my_role": my_role,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class TripAccess:
    """A trip as one caller sees it: the record and the caller's role on it."""

    trip: TripRecord
    role: TripRole

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TripAccess:
        return cls(TripRecord.from_row(row), TripRole(row["my_role"]))


@dataclass(frozen=True)
class MemberRecord:
    user_id: str
    role: TripRole
    added_at: datetime

    def public(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "role": self.role, "added_at": self.added_at}


@dataclass(frozen=True)
class ScheduleRecord:
    id: str
    trip_id: str
    requested_by: str
    status: ScheduleStatus
    itinerary: dict[str, Any] | None
    error: str | None
    requested_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ScheduleRecord:
        return cls(
            id=str(row["id"]),
            trip_id=str(row["trip_id"]),
            requested_by=str(row["requested_by"]),
            status=ScheduleStatus(row["status"]),
            itinerary=row.get("itinerary"),
            error=row["error"],
            requested_at=row["requested_at"],
            updated_at=row["updated_at"],
        )

    def public(self, *, with_itinerary: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schedule_id": self.id,
            "trip_id": self.trip_id,
            "requested_by": self.requested_by,
            "status": self.status,
            "error": self.error if self.status is ScheduleStatus.FAILED else None,
            "requested_at": self.requested_at,
            "updated_at": self.updated_at,
        }
        if with_itinerary:
            body["itinerary"] = self.itinerary if self.status is ScheduleStatus.DONE else None
        return body


OutboxFor = Callable[[TripRecord, "ScheduleRecord"], Sequence[OutboxMessage]]


class TripRepository:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.outbox = OutboxStore(pool, "trip")  # what the relay reads; writes use add_outbox

    # -- trips --------------------------------------------------------------------------------

    async def create_trip(
        self,
        trip_id: str,
        owner_id: str,
        fields: Mapping[str, Any],
        outbox: Sequence[OutboxMessage],
    ) -> TripRecord:
        """Insert the trip (fields shaped as the API's, unknown names ignored) and its messages.

        The values travel as one jsonb document that PostgreSQL unpacks into the row's types
        (`jsonb_populate_record`) and the outbox rows: psycopg's adaptation of twenty-odd
        parameters, two of them arrays, cost 65–90 µs more client CPU an insert (measured in
        process). A field left out keeps its column default, as in a VALUES list."""
        fields = _stored(fields)
        names = [name for name in _WRITABLE if name in fields]
        document: dict[str, Any] = {
            "id": trip_id,
            "owner_id": owner_id,
            "trip": {name: fields[name] for name in names},
            "outbox": outbox_documents(outbox),
        }
        # One statement on an autocommit connection is its own transaction: a BEGIN/COMMIT
        # around it would add two round trips and change nothing.
        async with self.pool.connection() as conn:
            row = await _one(
                await conn.execute(_create_statement(tuple(names)), (Jsonb(document),))
            )
        return TripRecord.from_row(row)

    async def stored_trip(self, trip_id: str, within_s: float) -> TripRecord | None:
        """The trip if it is in the database, None if it is not; asked again until a server
        answers or `within_s` passes (then the last error is raised: still unknown)."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                remaining = max(0.1, deadline - time.monotonic())
                async with self.pool.connection(timeout=remaining) as conn:
                    cur = await conn.execute(
                        f"SELECT {_TRIP_COLUMNS} FROM trips t WHERE t.id = %s", (trip_id,)
                    )
                    row = await cur.fetchone()
                return TripRecord.from_row(row) if row else None
            except (OperationalError, PoolTimeout):
                if time.monotonic() + _OUTCOME_POLL_S >= deadline:
                    raise
                await asyncio.sleep(_OUTCOME_POLL_S)

    async def visible_trip(self, trip_id: str, user_id: str) -> TripAccess | None:
        """The trip and the caller's role, or None when it is not theirs or shared with them."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(_VISIBLE_TRIP, {"trip_id": trip_id, "user_id": user_id})
            row = await cur.fetchone()
        return TripAccess.from_row(row) if row else None

    async def visible_trips(
        self, user_id: str, page: int, size: int
    ) -> tuple[list[TripAccess], int]:
        """Trips the user owns or is a member of, newest first."""
        # UNION ALL of two indexed lookups instead of an OR over a join (the owner is never a
        # member row, so nothing is counted twice).
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "WITH mine AS ("
                "  SELECT id AS trip_id, 'owner' AS my_role FROM trips WHERE owner_id = %(u)s"
                "  UNION ALL"
                "  SELECT trip_id, role FROM trip_members WHERE user_id = %(u)s)"
                f" SELECT {_TRIP_COLUMNS}, mine.my_role, count(*) OVER () AS total"
                " FROM mine JOIN trips t ON t.id = mine.trip_id"
                " ORDER BY t.created_at DESC, t.id LIMIT %(limit)s OFFSET %(offset)s",
                {"u": user_id, "limit": size, "offset": (page - 1) * size},
            )
            rows = await cur.fetchall()
            if rows:
                total = int(rows[0]["total"])
            else:
                cur = await conn.execute(
                    "SELECT (SELECT count(*) FROM trips WHERE owner_id = %(u)s)"
                    " + (SELECT count(*) FROM trip_members WHERE user_id = %(u)s) AS n",
                    {"u": user_id},
                )
                total = int((await _one(cur))["n"])
        return [TripAccess.from_row(r) for r in rows], total

    async def update_trip(
        self,
        trip_id: str,
        version: int,
        changes: Mapping[str, Any],
        outbox: Sequence[OutboxMessage],
    ) -> TripRecord | None:
        """Apply `changes` if the trip is still at `version`; None when it changed or went."""
        changes = _stored(changes)
        names = [name for name in _WRITABLE if name in changes]
        assignments = "".join(f", {n} = %s::{_WRITABLE[n]}" for n in names)
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"UPDATE trips AS t SET version = version + 1, updated_at = now(){assignments}"
                f" WHERE id = %s AND version = %s RETURNING {_TRIP_COLUMNS}",
                (*(changes[n] for n in names), trip_id, version),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            await add_outbox(conn, outbox)
        return TripRecord.from_row(row)

    async def delete_trip(self, trip_id: str, outbox: Sequence[OutboxMessage]) -> bool:
        """Delete the trip with its members and schedules; False when it was already gone."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute("DELETE FROM trips WHERE id = %s", (trip_id,))
            if cur.rowcount == 0:
                return False
            await add_outbox(conn, outbox)
        return True

    # -- members ------------------------------------------------------------------------------

    async def members(self, trip_id: str) -> list[MemberRecord]:
        """The owner first, then members in the order they were added."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT owner_id AS user_id, 'owner' AS role, created_at AS added_at, 0 AS rank"
                " FROM trips WHERE id = %(t)s"
                " UNION ALL"
                " SELECT user_id, role, added_at, 1 FROM trip_members WHERE trip_id = %(t)s"
                " ORDER BY rank, added_at, user_id",
                {"t": trip_id},
            )
            rows = await cur.fetchall()
        return [MemberRecord(str(r["user_id"]), TripRole(r["role"]), r["added_at"]) for r in rows]

    async def put_member(
        self, trip_id: str, user_id: str, role: MemberRole, outbox: Sequence[OutboxMessage]
    ) -> tuple[MemberRecord, bool] | None:
        """Add the member or change their role; (member, added?), None when the trip is gone."""
        async with self.pool.connection() as conn, conn.transaction():
            # `xmax = 0` holds only for a freshly inserted row: it tells an add from a role change.
            cur = await conn.execute(
                "INSERT INTO trip_members (trip_id, user_id, role)"
                " SELECT id, %(u)s, %(r)s FROM trips WHERE id = %(t)s"
                " ON CONFLICT (trip_id, user_id) DO UPDATE SET role = EXCLUDED.role"
                " RETURNING user_id, role, added_at, (xmax = 0) AS added",
                {"t": trip_id, "u": user_id, "r": role.value},
            )
            row = await cur.fetchone()
            if row is None:
                return None
            await add_outbox(conn, outbox)
        member = MemberRecord(str(row["user_id"]), TripRole(row["role"]), row["added_at"])
        return member, bool(row["added"])

    async def remove_member(
        self, trip_id: str, user_id: str, outbox: Sequence[OutboxMessage]
    ) -> bool:
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM trip_members WHERE trip_id = %s AND user_id = %s", (trip_id, user_id)
            )
            if cur.rowcount == 0:
                return False
            await add_outbox(conn, outbox)
        return True

    # -- schedules ----------------------------------------------------------------------------

    async def create_schedule(
        self, schedule_id: str, trip_id: str, requested_by: str, outbox_for: OutboxFor
    ) -> ScheduleRecord | None:
        """Insert a pending schedule and its messages, built from the trip as it is right now.

        The trip row is share-locked so that the snapshot sent to the AI worker is exactly the
        committed trip (no edit can slip in between reading it and queueing the request).
        """
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"SELECT {_TRIP_COLUMNS} FROM trips t WHERE t.id = %s FOR SHARE", (trip_id,)
            )
            trip_row = await cur.fetchone()
            if trip_row is None:
                return None
            cur = await conn.execute(
                "INSERT INTO schedules AS s (id, trip_id, requested_by) VALUES (%s, %s, %s)"
                f" RETURNING {_SCHEDULE_COLUMNS}",
                (schedule_id, trip_id, requested_by),
            )
            schedule = ScheduleRecord.from_row(await _one(cur))
            await add_outbox(conn, outbox_for(TripRecord.from_row(trip_row), schedule))
        return schedule

    async def visible_schedule(
        self, trip_id: str, schedule_id: str, user_id: str
    ) -> tuple[bool, ScheduleRecord | None]:
        """(whether the caller sees the trip, the trip's schedule or None) in one round trip: the
        status route is what clients poll while an itinerary is generated."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(_VISIBLE_SCHEDULE, {
                "trip_id": trip_id, "schedule_id": schedule_id, "user_id": user_id,
            })  # fmt: skip
            row = await cur.fetchone()
        if row is None:
            return False, None
        return True, ScheduleRecord.from_row(row) if row["id"] is not None else None

    async def schedules(
        self, trip_id: str, page: int, size: int
    ) -> tuple[list[ScheduleRecord], int]:
        """The trip's schedules, newest first, without their itineraries."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT s.id, s.trip_id, s.requested_by, s.status, NULL::jsonb AS itinerary,"
                " s.error, s.requested_at, s.updated_at, count(*) OVER () AS total"
                " FROM schedules s WHERE s.trip_id = %s"
                " ORDER BY s.requested_at DESC, s.id LIMIT %s OFFSET %s",
                (trip_id, size, (page - 1) * size),
            )
            rows = await cur.fetchall()
            if rows:
                total = int(rows[0]["total"])
            else:
                cur = await conn.execute(
                    "SELECT count(*) AS n FROM schedules WHERE trip_id = %s", (trip_id,)
                )
                total = int((await _one(cur))["n"])
        return [ScheduleRecord.from_row(r) for r in rows], total

    async def advance_schedule(
        self,
        schedule_id: str,
        status: ScheduleStatus,
        *,
        itinerary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Move a schedule forward to `status`; False when it is unknown or already past it."""
        async with self.pool.connection() as conn:
            # The notification goes out at commit, only when the row moved (schedule_watch).
            cur = await conn.execute(
                "WITH moved AS (UPDATE schedules AS s SET status = %(status)s,"
                " itinerary = COALESCE(%(itinerary)s, s.itinerary),"
                " error = %(error)s, updated_at = now()"
                f" WHERE s.id = %(id)s AND {_STATUS_RANK} < %(rank)s RETURNING s.id)"
                f" SELECT pg_notify('{SCHEDULE_CHANNEL}', id::text) FROM moved",
                {
                    "id": schedule_id,
                    "status": status.value,
                    "itinerary": Jsonb(itinerary) if itinerary is not None else None,
                    "error": error,
                    "rank": _RANK[status],
                },
            )
            return cur.rowcount > 0


_OUTBOX_FROM_DOCUMENT = outbox_insert_from("(SELECT p.d->'outbox' FROM p)")


@lru_cache(maxsize=64)
def _create_statement(names: tuple[str, ...]) -> str:
    """The trip and its outbox rows from the document `create_trip` passes as its parameter."""
    columns = ", ".join(["id", "owner_id", *names])
    values = ", ".join(
        ["(p.d->>'id')::uuid", "(p.d->>'owner_id')::uuid", *(f"r.{n}" for n in names)]
    )
    return (
        "WITH p AS (SELECT %s::jsonb AS d),"
        f" created AS (INSERT INTO trips AS t ({columns}) SELECT {values}"
        " FROM p, jsonb_populate_record(NULL::trips, p.d->'trip') AS r"
        f" RETURNING {_TRIP_COLUMNS}),"
        f" o AS ({_OUTBOX_FROM_DOCUMENT})"
        " SELECT * FROM created"
    )


def _stored(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Trip fields as the API shapes them → as the table stores them (lodging as lat/lng)."""
    stored = dict(fields)
    if "lodging" in stored:
        lodging = stored.pop("lodging")
        stored["lodging_lat"] = lodging["lat"] if lodging else None
        stored["lodging_lng"] = lodging["lng"] if lodging else None
    return stored

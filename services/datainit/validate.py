"""Check the loaded dev data against SPEC.md's table; every row of the check is reported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from services.datainit.expected import (
    AI_COUNTS,
    DISTRICTS_PER_REGION,
    OVERSEAS_CITIES,
    OVERSEAS_PLACES,
    PLACES_PER_REGION,
    SAMPLE_USERS,
)


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    found: str

    @property
    def ok(self) -> bool:
        return self.expected == self.found


async def _scalar(conn: AsyncConnection[Any], sql: str, *params: Any) -> Any:
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    return row[0] if row else None


async def run_checks(conn: AsyncConnection[Any]) -> list[Check]:
    checks: list[Check] = []
    for user in SAMPLE_USERS:
        cur = await conn.execute(
            "SELECT id, role FROM user_db.users WHERE lower(email) = lower(%s)", (user.email,)
        )
        row = await cur.fetchone()
        checks.append(
            Check(f"user {user.username} role", user.role.value, row[1] if row else "missing")
        )
        trips = 0
        if row:
            trips = await _scalar(
                conn, "SELECT count(*) FROM trip_db.trips WHERE owner_id = %s", row[0]
            )
        checks.append(Check(f"user {user.username} sample trips", str(user.trips), str(trips)))
    for region, count in PLACES_PER_REGION.items():
        found = await _scalar(
            conn, "SELECT count(*) FROM location_db.places WHERE city = %s", region
        )
        checks.append(Check(f"places in {region}", str(count), str(found)))
        districts = await _scalar(
            conn, "SELECT count(DISTINCT district) FROM location_db.places WHERE city = %s", region
        )
        checks.append(
            Check(f"districts in {region}", str(DISTRICTS_PER_REGION[region]), str(districts))
        )
    regions = list(PLACES_PER_REGION)
    overseas_cities = await _scalar(
        conn, "SELECT count(DISTINCT city) FROM location_db.places WHERE country <> 'KR'"
    )
    overseas_places = await _scalar(
        conn, "SELECT count(*) FROM location_db.places WHERE NOT (city = ANY(%s))", regions
    )
    checks.append(Check("overseas cities", str(OVERSEAS_CITIES), str(overseas_cities)))
    checks.append(Check("overseas places", str(OVERSEAS_PLACES), str(overseas_places)))
    for table, count in AI_COUNTS.items():
        found = await _scalar(conn, f"SELECT count(*) FROM ai_db.{table}")
        checks.append(Check(f"ai {table}", str(count), str(found)))
    templates = await _scalar(
        conn,
        "SELECT count(DISTINCT days) FROM ai_db.itinerary_templates WHERE days BETWEEN 1 AND 7",
    )
    checks.append(Check("itinerary template lengths 1-7 days", "7", str(templates)))
    stars = await _scalar(conn, "SELECT count(DISTINCT stars) FROM ai_db.reviews")
    checks.append(Check("review star values 1-5", "5", str(stars)))
    return checks

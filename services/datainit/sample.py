"""Load the dev sample data: users with roles, their trips, places, AI reference data.

Idempotent: users are matched by email, trips have deterministic ids, places and reference rows
are upserted by id, so loading twice leaves the same data. Each area loads in one transaction.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from services.datainit.expected import SAMPLE_USERS, SampleUser
from services.location.places_loader import upsert_places
from services.user.passwords import Passwords

DATA_DIR = Path(__file__).resolve().parent / "data"
# Trip ids derive from this namespace, so a reload finds the same rows.
TRIP_NAMESPACE = uuid.UUID("6f1c2d7e-3a4b-5c6d-8e9f-0a1b2c3d4e5f")
SAMPLE_CITIES = ("Seoul", "Busan", "Jeju", "Tokyo", "Paris", "Seoul", "Jeju")
PACES = ("relaxed", "normal", "packed")
BUDGETS = ("low", "medium", "high")
MODES = ("transit", "walk", "car")
FIRST_TRIP_DAY = date(2027, 4, 5)


def read_json(name: str) -> Any:
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"sample data file missing: {path}")
    return orjson.loads(path.read_bytes())


async def load_users(conn: AsyncConnection[Any], password: str) -> dict[str, str]:
    """Create the sample users that do not exist yet; returns username → user id."""
    passwords = Passwords(2, 19456, 1, workers=1, nice=0, queue_limit=len(SAMPLE_USERS))
    ids: dict[str, str] = {}
    try:
        await _insert_users(conn, passwords, password, ids)
    finally:
        passwords.close()
    return ids


async def _insert_users(
    conn: AsyncConnection[Any], passwords: Passwords, password: str, ids: dict[str, str]
) -> None:
    async with conn.transaction():
        for user in SAMPLE_USERS:
            cur = await conn.execute(
                "SELECT id FROM user_db.users WHERE lower(email) = lower(%s)", (user.email,)
            )
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(
                    "INSERT INTO user_db.users (email, password_hash, name, role)"
                    " VALUES (%s, %s, %s, %s) RETURNING id",
                    (user.email, await passwords.hash(password), user.username, user.role.value),
                )
                row = await cur.fetchone()
            assert row is not None
            ids[user.username] = str(row[0])


def sample_trips(
    user: SampleUser, user_id: str, places: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The user's sample trips, the same on every run."""
    by_city: dict[str, list[str]] = {}
    for place in places:
        by_city.setdefault(place["city"], []).append(place["id"])
    trips = []
    for k in range(user.trips):
        city = SAMPLE_CITIES[k % len(SAMPLE_CITIES)]
        start = FIRST_TRIP_DAY + timedelta(days=14 * k + len(user.username))
        days = 1 + (k * 2 + len(user.username)) % 7
        candidates = by_city.get(city, [])
        trips.append(
            {
                "id": uuid.uuid5(TRIP_NAMESPACE, f"{user.username}/{k}"),
                "owner_id": user_id,
                "title": f"{user.username}'s {city} trip #{k + 1}",
                "destination_city": city,
                "start_date": start,
                "end_date": start + timedelta(days=days - 1),
                "travellers": 1 + k % 4,
                "budget": BUDGETS[k % 3],
                "pace": PACES[(k + 1) % 3],
                "preferred_categories": [],
                "must_visit": candidates[k % len(candidates) : k % len(candidates) + 1]
                if candidates
                else [],
                "mode": MODES[k % 3],
            }
        )
    return trips


async def load_trips(
    conn: AsyncConnection[Any], user_ids: dict[str, str], places: list[dict[str, Any]]
) -> int:
    written = 0
    async with conn.transaction():
        for user in SAMPLE_USERS:
            for trip in sample_trips(user, user_ids[user.username], places):
                cur = await conn.execute(
                    "INSERT INTO trip_db.trips (id, owner_id, title, destination_city, start_date,"
                    " end_date, travellers, budget, pace, preferred_categories, must_visit, mode)"
                    " VALUES (%(id)s, %(owner_id)s, %(title)s, %(destination_city)s,"
                    " %(start_date)s, %(end_date)s, %(travellers)s, %(budget)s, %(pace)s,"
                    " %(preferred_categories)s, %(must_visit)s, %(mode)s)"
                    " ON CONFLICT (id) DO NOTHING",
                    trip,
                )
                written += cur.rowcount
    return written


async def load_ai_reference(conn: AsyncConnection[Any]) -> dict[str, int]:
    profiles = read_json("ai/preference_profiles.json")
    templates = read_json("ai/itinerary_templates.json")
    reviews = read_json("ai/reviews.json")
    seasons = read_json("ai/seasonal_patterns.json")
    async with conn.transaction():
        for p in profiles:
            await conn.execute(
                "INSERT INTO ai_db.preference_profiles"
                " (id, name, pace, budget, preferred_categories, body)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " name = EXCLUDED.name, pace = EXCLUDED.pace, budget = EXCLUDED.budget,"
                " preferred_categories = EXCLUDED.preferred_categories, body = EXCLUDED.body",
                (p["id"], p["name"], p["pace"], p["budget"], p["preferred_categories"], Jsonb(p)),
            )
        for t in templates:
            await conn.execute(
                "INSERT INTO ai_db.itinerary_templates (id, city, days, title, pace, day_plans)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " city = EXCLUDED.city, days = EXCLUDED.days, title = EXCLUDED.title,"
                " pace = EXCLUDED.pace, day_plans = EXCLUDED.day_plans",
                (t["id"], t["city"], t["days"], t["title"], t["pace"], Jsonb(t["day_plans"])),
            )
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO ai_db.reviews (id, place_id, profile_id, stars, text, visited_month)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " stars = EXCLUDED.stars, text = EXCLUDED.text,"
                " visited_month = EXCLUDED.visited_month",
                [
                    (
                        r["id"],
                        r["place_id"],
                        r["profile_id"],
                        r["stars"],
                        r["text"],
                        r["visited_month"],
                    )
                    for r in reviews
                ],
            )
        for s in seasons:
            await conn.execute(
                "INSERT INTO ai_db.seasonal_patterns (month, season, category_weights, body)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (month) DO UPDATE SET"
                " season = EXCLUDED.season, category_weights = EXCLUDED.category_weights,"
                " body = EXCLUDED.body",
                (s["month"], s["season"], Jsonb(s["category_weights"]), Jsonb(s)),
            )
    return {
        "preference_profiles": len(profiles),
        "itinerary_templates": len(templates),
        "reviews": len(reviews),
        "seasonal_patterns": len(seasons),
    }


async def load_sample_data(conn: AsyncConnection[Any], password: str) -> dict[str, int]:
    """Load every area; returns rows written (or upserted) per area."""
    places = read_json("places.json")
    async with conn.transaction():
        place_rows = await upsert_places(conn, places)
    user_ids = await load_users(conn, password)
    trips = await load_trips(conn, user_ids, places)
    ai = await load_ai_reference(conn)
    return {"places": place_rows, "users": len(user_ids), "trips": trips, **ai}

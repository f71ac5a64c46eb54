"""The places loader and the migration: idempotent upserts, validation, the schema's rules."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from services.kit.migrations import migrate
from services.kit.vocabulary import Category
from services.location.places_loader import upsert_places, validate_places
from tests.location.conftest import StoredPlace

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(location_schema: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(location_schema, autocommit=True) as c:
        yield c


def _new_place(**changes: Any) -> dict[str, Any]:
    return {
        "id": f"test-{uuid.uuid4().hex[:12]}",
        "name_ko": "시험 장소",
        "name_en": "Test Place",
        "category": "leisure",
        "city": "Testville",
        "district": "Test-gu",
        "country": "KR",
        "lat": 37.1,
        "lng": 127.1,
        "rating": 4.2,
        "visit_duration_min": 45,
        "opening_hours": {"mon": [["09:00", "12:00"], ["13:00", "24:00"]], "tue": None},
        "price_level": 2,
        "tags": ["test"],
        **changes,
    }


async def test_loading_the_sample_again_writes_nothing(
    conn: psycopg.AsyncConnection[Any],
    stored_places: list[StoredPlace],
    sample_places: list[dict[str, Any]],
) -> None:
    assert {p.id for p in stored_places} >= {r["id"] for r in sample_places}
    assert await upsert_places(conn, sample_places) == 0


async def test_a_new_place_is_inserted_then_updated_by_id(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    place = _new_place()
    try:
        assert await upsert_places(conn, [place]) == 1
        assert await upsert_places(conn, [place]) == 0
        moved = {**place, "lat": 37.2, "rating": 3.9, "tags": ["test", "moved"]}
        assert await upsert_places(conn, [moved]) == 1
        cur = await conn.execute(
            "SELECT ST_Y(geog::geometry), rating::float8, tags, opening_hours"
            " FROM location_db.places WHERE id = %s",
            (place["id"],),
        )
        assert await cur.fetchone() == (
            pytest.approx(37.2),
            3.9,
            ["test", "moved"],
            place["opening_hours"],
        )
    finally:
        await conn.execute("DELETE FROM location_db.places WHERE id = %s", (place["id"],))


async def test_an_empty_load_is_a_no_op(conn: psycopg.AsyncConnection[Any]) -> None:
    assert await upsert_places(conn, []) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "casino"}, "category"),
        ({"lat": 91.0}, "lat"),
        ({"lng": float("nan")}, "lng"),
        ({"rating": 5.5}, "rating"),
        ({"price_level": 5}, "price_level"),
        ({"visit_duration_min": 0}, "visit_duration_min"),
        ({"opening_hours": {"mon": [["09:00", "48:00"]]}}, "opening_hours"),
        ({"opening_hours": {"mon": [["25:00", "26:00"]]}}, "opening_hours"),
        ({"opening_hours": {"mon": [["09:00", "33:00"]]}}, "opening_hours"),
        ({"opening_hours": {"mon": [["9:00", "18:00"]]}}, "opening_hours"),
        ({"opening_hours": {"someday": None}}, "opening_hours"),
        ({"id": "Not A Slug"}, "id"),
        ({"name_en": ""}, "name_en"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_a_bad_record_fails_the_load_naming_the_field(
    conn: psycopg.AsyncConnection[Any], changes: dict[str, Any], field: str
) -> None:
    place = _new_place(**changes)
    with pytest.raises(ValidationError, match=field):
        await upsert_places(conn, [_new_place(), place])
    cur = await conn.execute("SELECT count(*) FROM location_db.places WHERE city = 'Testville'")
    assert await cur.fetchone() == (0,)


def test_closing_past_midnight_is_stored_in_the_planners_form() -> None:
    hours = {"fri": [["11:00", "14:00"], ["17:00", "26:30"]], "sat": [["18:00", "24:00"]]}
    (place,) = validate_places([_new_place(opening_hours=hours)])
    assert place.opening_hours == {
        "fri": [("11:00", "14:00"), ("17:00", "02:30")],
        "sat": [("18:00", "24:00")],
    }


def test_repeated_ids_are_refused() -> None:
    place = _new_place()
    with pytest.raises(ValueError, match=place["id"]):
        validate_places([place, {**place, "name_en": "Twin"}])


async def test_the_category_rule_of_the_table_is_the_vocabulary(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    cur = await conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'location_db.places'::regclass AND conname = 'places_category_check'"
    )
    row = await cur.fetchone()
    assert row is not None
    assert set(re.findall(r"'(\w+)'", row[0])) == {c.value for c in Category}


async def test_the_migration_is_idempotent_and_extensions_live_in_public(
    location_schema: str, conn: psycopg.AsyncConnection[Any]
) -> None:
    assert await migrate(location_schema, "location") == []
    cur = await conn.execute(
        "SELECT extname, extnamespace::regnamespace::text FROM pg_extension"
        " WHERE extname IN ('postgis', 'pg_trgm') ORDER BY extname"
    )
    assert await cur.fetchall() == [("pg_trgm", "public"), ("postgis", "public")]

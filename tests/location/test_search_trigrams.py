"""The stored name trigrams and lowered names only skip work: text search matches exactly the
places it would match by computing every similarity and by ILIKE."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from scenarios.load.locustfiles.catalog import CITIES
from services.location.repository import escape_like
from tests.location.conftest import StoredPlace

pytestmark = pytest.mark.integration

# Every similarity the search tests, with no trigram prefilter (the search as it was).
_SIMILAR_EVERY_ROW = (
    "SELECT id FROM location_db.places WHERE name_ko %% %(text)s OR name_en %% %(text)s"
    " OR %(text)s <%% name_ko OR %(text)s <%% name_en"
)
_SIMILAR_PREFILTERED = (
    "SELECT id FROM location_db.places"
    " WHERE name_trigrams && (SELECT show_trgm(%(text)s))"
    " AND (name_ko %% %(text)s OR name_en %% %(text)s"
    " OR %(text)s <%% name_ko OR %(text)s <%% name_en)"
)

_CONTAINS_ILIKE = (
    "SELECT id FROM location_db.places WHERE name_ko ILIKE %(like)s OR name_en ILIKE %(like)s"
)
_CONTAINS_LOWERED = (
    "SELECT id FROM location_db.places WHERE name_ko_lower LIKE (SELECT lower(%(like)s))"
    " OR name_en_lower LIKE (SELECT lower(%(like)s))"
)


def search_texts(places: list[dict[str, Any]]) -> list[str]:
    """The journeys' terms, whole and partial names in both languages, misspellings, and
    texts short enough to be one padded trigram."""
    texts = {term for city in CITIES for term in city.search_terms}
    for place in places[::7]:
        texts |= {place["name_ko"], place["name_ko"][:2], place["name_en"], place["name_en"][:4]}
        texts.add(place["name_en"].lower().replace("o", "oo").replace("eo", "u"))
    odd = {"a", "궁", "N Seoul", "SEOUL TOWER", "gyeongbokgoong", "x1", "zzqx", "İstanbul", "ß"}
    return sorted(texts | odd)


async def _ids(conn: psycopg.AsyncConnection[Any], query: str, params: dict[str, str]) -> list[str]:
    return sorted(row[0] for row in await (await conn.execute(query, params)).fetchall())


def _parameters(parameter: str, text: str) -> dict[str, str]:
    return {"text": text} if parameter == "text" else {"like": f"%{escape_like(text)}%"}


@pytest.mark.parametrize(
    ("reference", "stand_in", "parameter"),
    [
        (_SIMILAR_EVERY_ROW, _SIMILAR_PREFILTERED, "text"),
        (_CONTAINS_ILIKE, _CONTAINS_LOWERED, "like"),
    ],
    ids=["trigram prefilter", "lowered names"],
)
async def test_stand_in_matches_exactly_what_it_replaces(
    stored_places: list[StoredPlace],
    location_schema: str,
    sample_places: list[dict[str, Any]],
    reference: str,
    stand_in: str,
    parameter: str,
) -> None:
    assert stored_places
    texts = search_texts(sample_places)
    matched_any = 0
    async with await psycopg.AsyncConnection.connect(location_schema, autocommit=True) as conn:
        for text in texts:
            params = _parameters(parameter, text)
            expected = await _ids(conn, reference, params)
            assert await _ids(conn, stand_in, params) == expected, text
            matched_any += bool(expected)
    assert matched_any > len(texts) // 3  # the comparison is not between empty answers


async def test_name_trigrams_follow_a_renamed_place(
    stored_places: list[StoredPlace], location_schema: str
) -> None:
    place = stored_places[0].id
    async with await psycopg.AsyncConnection.connect(location_schema, autocommit=True) as conn:
        await conn.execute(
            "UPDATE location_db.places SET name_en = 'Zyxwvut Qrstuv' WHERE id = %s", (place,)
        )
        cur = await conn.execute(_SIMILAR_PREFILTERED, {"text": "zyxwvut"})
        assert [row[0] for row in await cur.fetchall()] == [place]
    # The next test's `stored_places` loads the sample again, restoring the name.

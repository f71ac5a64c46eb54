"""The stored name trigrams only skip work: text search matches exactly the places it would
match by computing every similarity."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from scenarios.load.locustfiles.catalog import CITIES
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


def search_texts(places: list[dict[str, Any]]) -> list[str]:
    """The journeys' terms, whole and partial names in both languages, misspellings, and
    texts short enough to be one padded trigram."""
    texts = {term for city in CITIES for term in city.search_terms}
    for place in places[::7]:
        texts |= {place["name_ko"], place["name_ko"][:2], place["name_en"], place["name_en"][:4]}
        texts.add(place["name_en"].lower().replace("o", "oo").replace("eo", "u"))
    return sorted(texts | {"a", "궁", "N Seoul", "seoul tower", "gyeongbokgoong", "x1", "zzqx"})


async def test_prefilter_matches_exactly_what_every_similarity_matches(
    stored_places: list[StoredPlace], location_schema: str, sample_places: list[dict[str, Any]]
) -> None:
    assert stored_places
    texts = search_texts(sample_places)
    matched_any = 0
    async with await psycopg.AsyncConnection.connect(location_schema, autocommit=True) as conn:
        for text in texts:
            every_row = await (await conn.execute(_SIMILAR_EVERY_ROW, {"text": text})).fetchall()
            prefiltered = await (
                await conn.execute(_SIMILAR_PREFILTERED, {"text": text})
            ).fetchall()
            assert sorted(prefiltered) == sorted(every_row), text
            matched_any += bool(every_row)
    assert matched_any > len(texts) // 2  # the comparison is not between two empty answers


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

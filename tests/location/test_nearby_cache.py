"""The cached nearby list: pages cut from the bytes equal pages built from the objects."""

from __future__ import annotations

import orjson
import pytest

from services.kit.vocabulary import Category
from services.location import nearby_cache
from services.location.places_loader import validate_places
from services.location.schemas import NearbyPage, NearbyPlace
from tests.location.conftest import load_sample_places


def _places() -> list[NearbyPlace]:
    # Real records with made-up distances, nearest first; every category, interleaved.
    records = load_sample_places()[::9]
    assert {r["category"] for r in records} == set(Category)
    return [
        NearbyPlace.model_validate({**record.model_dump(), "distance_m": 10.0 * index})
        for index, record in enumerate(validate_places(records))
    ]


def _expected(places: list[NearbyPlace], limit: int, category: Category | None) -> NearbyPage:
    chosen = [p for p in places if category is None or p.category == category][:limit]
    return NearbyPage(items=chosen, count=len(chosen))


@pytest.mark.parametrize("limit", [1, 2, 5, 59, 100])
@pytest.mark.parametrize("category", [None, *Category])
def test_page_equals_the_objects_filtered_and_cut(limit: int, category: Category | None) -> None:
    places = _places()
    value = nearby_cache.encode(places, complete=True)
    body = nearby_cache.page(value, limit, category)
    assert body is not None
    assert NearbyPage.model_validate_json(body) == _expected(places, limit, category)
    # What the route returns is plain JSON that any client parses.
    assert orjson.loads(body)["count"] == len(orjson.loads(body)["items"])


def test_page_without_category_is_one_slice_of_the_stored_bytes() -> None:
    value = nearby_cache.encode(_places(), complete=True)
    body = nearby_cache.page(value, 3)
    assert body is not None
    assert body.removeprefix(b'{"items":[').removesuffix(b'],"count":3}') in value


def test_an_empty_list_gives_an_empty_page() -> None:
    value = nearby_cache.encode([], complete=True)
    assert orjson.loads(nearby_cache.page(value, 20) or b"") == {"items": [], "count": 0}
    body = nearby_cache.page(value, 20, Category.FOOD)
    assert orjson.loads(body or b"") == {"items": [], "count": 0}


def test_a_list_cut_at_its_cap_answers_only_pages_within_the_cut() -> None:
    places = _places()
    value = nearby_cache.encode(places[:10], complete=False)
    assert nearby_cache.page(value, 5, Category.CULTURE) is None
    assert nearby_cache.page(value, 11) is None
    for limit in (5, 10):
        body = nearby_cache.page(value, limit)
        assert body is not None
        assert NearbyPage.model_validate_json(body) == _expected(places, limit, None)


def test_values_of_another_layout_are_not_readable() -> None:
    assert nearby_cache.is_readable(nearby_cache.encode(_places(), complete=True))
    assert not nearby_cache.is_readable(b'{"items":[],"count":0}')
    assert not nearby_cache.is_readable(b"NBY1")
    assert not nearby_cache.is_readable(b"")

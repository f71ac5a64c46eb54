"""location-service routes other than nearby: success and bad input for each, auth, metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.location.app import create_app
from services.location.schemas import SearchResults
from services.location.settings import LocationSettings
from tests.location.conftest import get_anonymously, issue_token
from tests.support import bearer, serving

pytestmark = pytest.mark.integration

ROUTES = [
    "/api/locations/places/seoul-gyeongbokgung",
    "/api/locations/places/nearby?lat=37.5&lng=127&radius_m=1000",
    "/api/locations/places/search?q=palace",
    "/api/locations/places?ids=a,b",
    "/api/locations/places?city=Seoul",
    "/api/locations/cities",
]


def find(sample: list[dict[str, Any]], name_en: str) -> dict[str, Any]:
    """The sample record whose English name contains `name_en`."""
    return next(r for r in sample if name_en.lower() in r["name_en"].lower())


def problem_fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in r.json()["errors"]]


@pytest.mark.parametrize("path", ROUTES)
async def test_every_route_needs_a_token(client: httpx.AsyncClient, path: str) -> None:
    r = await get_anonymously(client, path)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    bad = await client.get(path, headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401


async def test_routes_are_rate_limited_per_user(
    location_settings: Callable[..., LocationSettings], clean_redis: str
) -> None:
    app = create_app(location_settings(rate_limit_per_minute=2))
    async with serving(app) as c:
        c.headers.update(bearer(issue_token(app)))
        codes = [(await c.get("/api/locations/cities")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- by id


async def test_place_by_id(client: httpx.AsyncClient, sample_places: list[dict[str, Any]]) -> None:
    record = find(sample_places, "Gyeongbokgung")
    r = await client.get(f"/api/locations/places/{record['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    expected = {k: v for k, v in record.items() if k not in ("lat", "lng", "rating")}
    assert {k: body[k] for k in expected} == expected
    assert (body["lat"], body["lng"]) == pytest.approx((record["lat"], record["lng"]), abs=1e-9)
    assert body["rating"] == pytest.approx(record["rating"], abs=0.05)  # numeric(2,1)


async def test_unknown_place_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/locations/places/no-such-place")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "no-such-place" in r.json()["detail"]


async def test_an_overlong_place_id_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/locations/places/{'x' * 129}")
    assert problem_fields(r) == ["place_id"]


# --- batch: by ids, by city


async def test_places_by_ids_lists_found_in_order_and_missing(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    a, b = sample_places[5]["id"], sample_places[0]["id"]
    r = await client.get("/api/locations/places", params={"ids": f"{a}, nope-1,{b},{a},,nope-2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["id"] for p in body["items"]] == [a, b]
    assert body["missing"] == ["nope-1", "nope-2"]


async def test_up_to_100_ids(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    ids = [r["id"] for r in sample_places[:20]] + [f"missing-{n}" for n in range(80)]
    r = await client.get("/api/locations/places", params={"ids": ",".join(ids)})
    assert r.status_code == 200
    assert len(r.json()["items"]) == 20
    assert len(r.json()["missing"]) == 80
    r = await client.get("/api/locations/places", params={"ids": ",".join([*ids, "one-more"])})
    assert problem_fields(r) == ["ids"]


async def test_places_of_a_city_page_by_page(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    expected = {r["id"] for r in sample_places if r["city"] == "Seoul"}
    seen: list[dict[str, Any]] = []
    offset = 0
    while True:
        r = await client.get(
            "/api/locations/places", params={"city": "seoul", "limit": 7, "offset": offset}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["total"], body["limit"], body["offset"]) == (len(expected), 7, offset)
        if not body["items"]:
            break
        seen += body["items"]
        offset += 7
    assert [p["id"] for p in seen if p["id"] in expected] == [p["id"] for p in seen]
    assert {p["id"] for p in seen} == expected
    assert len(seen) == len(expected)
    ratings = [p["rating"] for p in seen]
    assert ratings == sorted(ratings, reverse=True)


async def test_a_city_in_one_page_of_up_to_1000(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    expected = {r["id"] for r in sample_places if r["city"] == "Seoul"}
    r = await client.get("/api/locations/places", params={"city": "Seoul", "limit": 1000})
    assert {p["id"] for p in r.json()["items"]} == expected


async def test_places_of_a_city_and_category(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    expected = {r["id"] for r in sample_places if r["city"] == "Busan" and r["category"] == "food"}
    r = await client.get("/api/locations/places", params={"city": "Busan", "category": "food"})
    body = r.json()
    assert {p["id"] for p in body["items"]} == expected
    assert body["total"] == len(expected)
    assert (body["limit"], body["offset"]) == (100, 0)


async def test_an_unknown_city_is_an_empty_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/locations/places", params={"city": "Atlantis"})
    assert r.json() == {"items": [], "total": 0, "limit": 100, "offset": 0}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, ["ids", "city"]),
        ({"ids": "a", "city": "Seoul"}, ["ids", "city"]),
        ({"ids": " , ,"}, ["ids"]),
        ({"ids": "a", "limit": 5}, ["limit"]),
        ({"ids": "a", "category": "food"}, ["category"]),
        ({"ids": "a", "offset": 5}, ["offset"]),
        ({"ids": "a", "offset": 0}, ["offset"]),
        ({"city": "Seoul", "limit": 0}, ["limit"]),
        ({"city": "Seoul", "limit": 1001}, ["limit"]),
        ({"city": "Seoul", "offset": -1}, ["offset"]),
        ({"city": "Seoul", "category": "casino"}, ["category"]),
        ({"city": ""}, ["city"]),
        ({"city": "x" * 101}, ["city"]),
    ],
)
async def test_batch_bad_input_names_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], fields: list[str]
) -> None:
    r = await client.get("/api/locations/places", params=params)
    assert problem_fields(r) == fields


# --- text search


async def test_search_finds_korean_names(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    record = find(sample_places, "Gyeongbokgung")
    r = await client.get("/api/locations/places/search", params={"q": record["name_ko"]})
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["id"] == record["id"]
    # Part of a Korean name finds it too.
    r = await client.get("/api/locations/places/search", params={"q": record["name_ko"][:2]})
    assert record["id"] in [p["id"] for p in r.json()["items"]]


@pytest.mark.parametrize("q", ["Gyeongbokgung", "gyeongbokgung palace", "Gyeongbokgoong"])
async def test_search_finds_english_names_whatever_the_case_or_spelling(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]], q: str
) -> None:
    record = find(sample_places, "Gyeongbokgung")
    r = await client.get("/api/locations/places/search", params={"q": q})
    assert r.json()["items"][0]["id"] == record["id"]


async def test_search_finds_tags(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    # A tag no name contains, so only the tag can make these places match.
    tags = Counter(t for r in sample_places for t in r["tags"])
    names = " ".join(f"{r['name_ko']} {r['name_en']}".lower() for r in sample_places)
    tag = next(t for t, n in tags.most_common() if 2 <= n <= 20 and t.lower() not in names)
    tagged = {r["id"] for r in sample_places if tag in r["tags"]}
    r = await client.get("/api/locations/places/search", params={"q": tag.upper(), "limit": 100})
    found = [p["id"] for p in r.json()["items"]]
    assert set(found[: len(tagged)]) == tagged


async def test_search_within_a_city_and_category(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    r = await client.get(
        "/api/locations/places/search",
        params={"city": "Jeju", "category": "nature", "limit": 100},
    )
    expected = {x["id"] for x in sample_places if x["city"] == "Jeju" and x["category"] == "nature"}
    assert {p["id"] for p in r.json()["items"]} == expected
    assert r.json()["count"] == len(expected)
    r = await client.get("/api/locations/places/search", params={"q": "market", "city": "Busan"})
    assert r.json()["items"]
    assert all(p["city"] == "Busan" for p in r.json()["items"])


@pytest.mark.parametrize(
    "params",
    [
        {"q": "palace"},
        {"q": "시장", "city": "Seoul"},
        {"q": "beach", "limit": 100},
        {"city": "Jeju", "category": "nature", "limit": 100},
        {"category": "food", "limit": 7},
    ],
)
async def test_search_body_is_search_results_of_the_stored_places(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    # PostgreSQL writes the search's JSON: each place must read exactly as the model-built
    # answer of GET /places/{id} has it, in the ranking's order.
    r = await client.get("/api/locations/places/search", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    results = SearchResults.model_validate_json(r.content)
    assert results.items and results.count == len(results.items) == len(r.json()["items"])
    for place in r.json()["items"]:
        assert place == (await client.get(f"/api/locations/places/{place['id']}")).json()
    if "q" not in params:  # no text to rank by: best rated first, then by id
        order = [(-p.rating, p.id) for p in results.items]
        assert order == sorted(order)


async def test_search_treats_like_wildcards_as_text(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/locations/places/search", params={"q": "%_%"})
    assert r.status_code == 200
    assert r.json() == {"items": [], "count": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "palace", "category": "casino"}, "category"),
        ({"q": "palace", "limit": 0}, "limit"),
        ({"q": "palace", "limit": 101}, "limit"),
        ({"city": "y" * 101}, "city"),
    ],
)
async def test_search_bad_input_names_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    r = await client.get("/api/locations/places/search", params=params)
    assert field in problem_fields(r)


def _counter(text: str, kind: str) -> float:
    prefix = f'search_requests_total{{kind="{kind}"}} '
    line = next((x for x in text.splitlines() if x.startswith(prefix)), None)
    return float(line.removeprefix(prefix)) if line else 0.0


async def test_search_requests_metric_counts_searches(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    assert "# TYPE search_requests_total counter" in text
    before = _counter(text, "text"), _counter(text, "nearby")
    for q in ("palace", "경복궁", "beach"):
        assert (
            await client.get("/api/locations/places/search", params={"q": q})
        ).status_code == 200
    nearby = {"lat": 37.57, "lng": 126.98, "radius_m": 1000}
    assert (await client.get("/api/locations/places/nearby", params=nearby)).status_code == 200
    text = (await client.get("/metrics")).text
    assert _counter(text, "text") == before[0] + 3
    assert _counter(text, "nearby") == before[1] + 1


# --- cities


async def test_cities_with_counts_and_centres(
    client: httpx.AsyncClient, sample_places: list[dict[str, Any]]
) -> None:
    r = await client.get("/api/locations/cities")
    assert r.status_code == 200, r.text
    body = r.json()
    cities = {c["city"]: c for c in body["items"]}
    assert body["count"] == len(cities)
    for city, records in _by_city(sample_places).items():
        assert cities[city]["place_count"] == len(records)
        assert cities[city]["country"] == records[0]["country"]
        centre = (
            sum(p["lat"] for p in records) / len(records),
            sum(p["lng"] for p in records) / len(records),
        )
        assert (cities[city]["lat"], cities[city]["lng"]) == pytest.approx(centre, abs=1e-6)


def _by_city(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["city"], []).append(record)
    return groups


async def test_cities_are_cached_under_the_static_pattern(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = await client.get("/api/locations/cities")
    second = await client.get("/api/locations/cities")
    assert second.content == first.content
    text = (await client.get("/metrics")).text
    assert 'cache_hits_total{layer="l1",pattern="static"} 1.0' in text
    redis = app.state.resources.redis
    # SPEC.md › cache pattern "static content": `static:{resource}:{version}`, in Redis for the
    # profile's L2 TTL (dev: 30 min).
    assert 30 * 60 - 5 <= await redis.ttl("static:cities:v1") <= 30 * 60


async def test_cache_writes_live_as_long_as_the_l2_ttl_setting(
    location_settings: Callable[..., LocationSettings],
    clean_redis: str,
    stored_places: list[Any],
) -> None:
    # An odd figure no code path could hold by accident: a write that ignores the setting fails.
    app = create_app(location_settings(l2_ttl_s=1234))
    async with serving(app) as client:
        client.headers.update(bearer(issue_token(app)))
        nearby = {"lat": 37.5662951, "lng": 126.9779449, "radius_m": 3000}
        assert (await client.get("/api/locations/places/nearby", params=nearby)).is_success
        assert (await client.get("/api/locations/cities")).is_success
        redis = app.state.resources.redis
        for key in ("location:37.56630:126.97794:3000", "static:cities:v1"):
            assert 1234 - 5 <= await redis.ttl(key) <= 1234, key


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/locations/openapi.json")).json()
    for path in (
        "/api/locations/places/nearby",
        "/api/locations/places/search",
        "/api/locations/places",
        "/api/locations/places/{place_id}",
        "/api/locations/cities",
    ):
        assert path in spec["paths"], path
    nearby = spec["paths"]["/api/locations/places/nearby"]["get"]["responses"]["200"]
    assert nearby["content"]["application/json"]["schema"]["$ref"].endswith("/NearbyPage")

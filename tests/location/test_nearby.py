"""Nearby search against real PostgreSQL + PostGIS: a brute-force haversine filter is the oracle."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.location.app import create_app
from tests.location.conftest import StoredPlace, get_anonymously, issue_token
from tests.support import bearer, serving

pytestmark = pytest.mark.integration

# PostGIS measures geography on a sphere of the WGS 84 mean radius (2a + b) / 3 when asked
# for sphere distances; the same radius here makes the oracle agree to well under a metre.
EARTH_RADIUS_M = (2 * 6378137.0 + 6356752.314245) / 3
TOLERANCE_M = 1.0


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def brute_force(
    places: list[StoredPlace], lat: float, lng: float, radius_m: int, category: str | None = None
) -> list[tuple[float, str]]:
    """(distance, id) of every place within the radius, nearest first."""
    hits = [
        (haversine_m(lat, lng, p.lat, p.lng), p.id)
        for p in places
        if category is None or p.category == category
    ]
    return sorted(hit for hit in hits if hit[0] <= radius_m)


def assert_matches_oracle(
    items: list[dict[str, Any]], oracle: list[tuple[float, str]], radius_m: int, limit: int
) -> None:
    """Same places, same order, distances within a metre (ties and the rim may swap)."""
    distance_of = {pid: d for d, pid in oracle}
    expected = oracle[:limit]
    assert len(items) == len(expected)
    for item, (distance, _) in zip(items, expected, strict=True):
        # Position by position the distances agree, so the order is the oracle's order …
        assert item["distance_m"] == pytest.approx(distance, abs=TOLERANCE_M)
        # … and each place is where the oracle puts it, unless it sits on the rim.
        if item["id"] in distance_of:
            assert item["distance_m"] == pytest.approx(distance_of[item["id"]], abs=TOLERANCE_M)
        else:
            assert radius_m - item["distance_m"] <= TOLERANCE_M
    returned = {item["id"] for item in items}
    cut = expected[-1][0] if expected else 0.0
    for distance, pid in expected:
        if pid not in returned:  # only a tie at the cut or a place on the rim may be swapped
            assert abs(distance - cut) <= TOLERANCE_M or radius_m - distance <= TOLERANCE_M


# Centres and radii over the sample: city centres, a 50 km sweep, a spot at sea with nothing.
CASES = [
    (37.566295, 126.977945, 2_000),  # Seoul City Hall
    (37.566295, 126.977945, 5_000),
    (37.566295, 126.977945, 50_000),
    (37.512600, 127.102500, 8_000),  # Jamsil
    (35.158698, 129.160384, 3_000),  # Haeundae
    (35.115000, 129.040000, 20_000),  # Busan
    (33.499600, 126.531200, 30_000),  # Jeju City
    (48.856600, 2.352200, 10_000),  # Paris
    (35.681200, 139.767100, 15_000),  # Tokyo Station
    (36.000000, 125.000000, 1_000),  # the Yellow Sea
]


@pytest.mark.parametrize(("lat", "lng", "radius_m"), CASES)
async def test_nearby_equals_a_brute_force_haversine_filter(
    client: httpx.AsyncClient,
    stored_places: list[StoredPlace],
    lat: float,
    lng: float,
    radius_m: int,
) -> None:
    r = await client.get(
        "/api/locations/places/nearby",
        params={"lat": lat, "lng": lng, "radius_m": radius_m, "limit": 100},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["items"])
    oracle = brute_force(stored_places, lat, lng, radius_m)
    assert_matches_oracle(body["items"], oracle, radius_m, 100)


async def test_the_sample_is_what_the_oracle_sees(
    stored_places: list[StoredPlace], sample_places: list[dict[str, Any]]
) -> None:
    stored = {p.id: p for p in stored_places}
    for record in sample_places:
        place = stored[record["id"]]
        assert (place.lat, place.lng) == pytest.approx((record["lat"], record["lng"]), abs=1e-9)


@pytest.mark.parametrize("category", ["culture", "food", "shopping", "ocean", "nature", "leisure"])
async def test_category_and_limit_are_applied_to_the_cached_list(
    client: httpx.AsyncClient, stored_places: list[StoredPlace], category: str
) -> None:
    lat, lng, radius_m = 37.566295, 126.977945, 50_000
    params: dict[str, Any] = {"lat": lat, "lng": lng, "radius_m": radius_m}
    warm = await client.get("/api/locations/places/nearby", params={**params, "limit": 100})
    assert warm.status_code == 200
    for limit in (1, 3, 100):
        r = await client.get(
            "/api/locations/places/nearby",
            params={**params, "category": category, "limit": limit},
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert all(item["category"] == category for item in items)
        oracle = brute_force(stored_places, lat, lng, radius_m, category)
        assert_matches_oracle(items, oracle, radius_m, limit)


async def test_limit_defaults_to_20_and_cuts_the_nearest(
    client: httpx.AsyncClient, stored_places: list[StoredPlace]
) -> None:
    params = {"lat": 37.566295, "lng": 126.977945, "radius_m": 50_000}
    r = await client.get("/api/locations/places/nearby", params=params)
    oracle = brute_force(stored_places, 37.566295, 126.977945, 50_000)
    assert r.json()["count"] == min(20, len(oracle))
    assert_matches_oracle(r.json()["items"], oracle, 50_000, 20)
    r = await client.get("/api/locations/places/nearby", params={**params, "limit": 2})
    assert [i["id"] for i in r.json()["items"]] == [pid for _, pid in oracle[:2]]


async def test_each_item_is_a_full_place_with_its_distance(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/locations/places/nearby",
        params={"lat": 37.579617, "lng": 126.977041, "radius_m": 300},
    )
    assert r.headers["content-type"] == "application/json"
    first = r.json()["items"][0]
    assert first["id"] == "seoul-gyeongbokgung"
    assert first["distance_m"] < 1.0
    assert set(first) == {
        "id", "name_ko", "name_en", "category", "city", "district", "country", "lat", "lng",
        "rating", "visit_duration_min", "opening_hours", "price_level", "tags", "distance_m",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 91, "lng": 127, "radius_m": 1000}, "lat"),
        ({"lat": -90.5, "lng": 127, "radius_m": 1000}, "lat"),
        ({"lat": "nan", "lng": 127, "radius_m": 1000}, "lat"),
        ({"lat": "north", "lng": 127, "radius_m": 1000}, "lat"),
        ({"lng": 127, "radius_m": 1000}, "lat"),
        ({"lat": 37, "lng": 180.01, "radius_m": 1000}, "lng"),
        ({"lat": 37, "lng": "-inf", "radius_m": 1000}, "lng"),
        ({"lat": 37, "lng": 127, "radius_m": 0}, "radius_m"),
        ({"lat": 37, "lng": 127, "radius_m": -5}, "radius_m"),
        ({"lat": 37, "lng": 127, "radius_m": 50_001}, "radius_m"),
        ({"lat": 37, "lng": 127, "radius_m": 1.5}, "radius_m"),
        ({"lat": 37, "lng": 127}, "radius_m"),
        ({"lat": 37, "lng": 127, "radius_m": 1000, "category": "casino"}, "category"),
        ({"lat": 37, "lng": 127, "radius_m": 1000, "limit": 0}, "limit"),
        ({"lat": 37, "lng": 127, "radius_m": 1000, "limit": 101}, "limit"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    r = await client.get("/api/locations/places/nearby", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_edges_of_the_valid_ranges_are_accepted(client: httpx.AsyncClient) -> None:
    for params in (
        {"lat": 90, "lng": 180, "radius_m": 1},
        {"lat": -90, "lng": -180, "radius_m": 50_000, "limit": 100},
        {"lat": -0.0, "lng": -0.0, "radius_m": 1, "limit": 1},
    ):
        r = await client.get("/api/locations/places/nearby", params=params)
        assert r.status_code == 200, (params, r.text)
        assert r.json() == {"items": [], "count": 0}


async def test_without_a_token_it_is_401(client: httpx.AsyncClient) -> None:
    r = await get_anonymously(client, "/api/locations/places/nearby?lat=37&lng=127&radius_m=10")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_the_second_call_is_a_cache_hit_under_the_spec_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    cache = app.state.resources.cache
    params = {"lat": 37.5662951, "lng": 126.9779449, "radius_m": 3000}
    first = await client.get("/api/locations/places/nearby", params=params)
    assert (cache.hits, cache.misses) == (0, 1)
    # SPEC.md › cache pattern "location data": `location:{lat}:{lng}:{radius}`, in Redis for the
    # profile's L2 TTL (dev: 30 min).
    key = "location:37.56630:126.97794:3000"
    redis = app.state.resources.redis
    assert 30 * 60 - 5 <= await redis.ttl(key) <= 30 * 60
    second = await client.get("/api/locations/places/nearby", params=params)
    assert (cache.hits, cache.misses) == (1, 1)
    assert second.content == first.content
    # Coordinates that round to the same key share the entry.
    near = {**params, "lat": 37.566297, "lng": 126.977941}
    assert (await client.get("/api/locations/places/nearby", params=near)).content == first.content
    metrics = (await client.get("/metrics")).text
    assert 'cache_hits_total{layer="l1",pattern="location"} 2.0' in metrics
    assert 'cache_misses_total{pattern="location"} 1.0' in metrics


async def test_a_fresh_replica_hits_l2(
    location_settings: Any, client: httpx.AsyncClient, stored_places: list[StoredPlace]
) -> None:
    params = {"lat": 35.158698, "lng": 129.160384, "radius_m": 5000, "limit": 100}
    first = await client.get("/api/locations/places/nearby", params=params)
    other = create_app(location_settings())
    async with serving(other) as c:
        c.headers.update(bearer(issue_token(other)))
        r = await c.get("/api/locations/places/nearby", params={**params, "category": "ocean"})
        assert r.status_code == 200
        assert other.state.resources.cache.hits == 1
        ids = [i["id"] for i in first.json()["items"] if i["category"] == "ocean"]
        assert [i["id"] for i in r.json()["items"]] == ids


async def test_a_list_cut_at_the_cap_leaves_the_rest_to_postgresql(
    location_settings: Any, clean_redis: str, stored_places: list[StoredPlace]
) -> None:
    app = create_app(location_settings(nearby_cache_max_places=3))
    lat, lng, radius_m = 37.566295, 126.977945, 50_000
    oracle = brute_force(stored_places, lat, lng, radius_m)
    assert len(oracle) > 3
    async with serving(app) as c:
        c.headers.update(bearer(issue_token(app)))
        params: dict[str, Any] = {"lat": lat, "lng": lng, "radius_m": radius_m}
        for limit in (2, 3, 100):  # within the cut from the cache, beyond it from PostgreSQL
            r = await c.get("/api/locations/places/nearby", params={**params, "limit": limit})
            assert_matches_oracle(r.json()["items"], oracle, radius_m, limit)
        for category in ("culture", "nature"):
            r = await c.get(
                "/api/locations/places/nearby",
                params={**params, "category": category, "limit": 100},
            )
            wanted = brute_force(stored_places, lat, lng, radius_m, category)
            assert_matches_oracle(r.json()["items"], wanted, radius_m, 100)


async def test_nearby_answers_from_postgresql_while_redis_is_down(
    client: httpx.AsyncClient, stored_places: list[StoredPlace], backing: Any
) -> None:
    params = {"lat": 35.153200, "lng": 129.118600, "radius_m": 10_000, "limit": 100}
    oracle = brute_force(stored_places, 35.153200, 129.118600, 10_000)
    backing.redis.stop()
    try:
        for radius_m in (10_000, 12_000):  # the second is a key no layer has seen
            r = await client.get(
                "/api/locations/places/nearby", params={**params, "radius_m": radius_m}
            )
            assert r.status_code == 200, r.text
            wanted = brute_force(stored_places, 35.153200, 129.118600, radius_m)
            assert_matches_oracle(r.json()["items"], wanted, radius_m, 100)
        again = await client.get("/api/locations/places/nearby", params=params)  # from L1
        assert_matches_oracle(again.json()["items"], oracle, 10_000, 100)
        assert "cache_errors_total" in (await client.get("/metrics")).text
    finally:
        backing.redis.start()
    r = await client.get("/api/locations/places/nearby", params=params)
    assert r.status_code == 200

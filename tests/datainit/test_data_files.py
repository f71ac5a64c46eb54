"""The dev data files (services/datainit/data): counts, coverage, coordinates, hours, AI data.

Pure file checks, no database: SPEC.md › Dev data initialisation.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "services" / "datainit" / "data"
AI = DATA / "ai"

CATEGORIES = {"culture", "shopping", "food", "ocean", "nature", "leisure"}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PLACE_KEYS = {
    "id",
    "name_ko",
    "name_en",
    "category",
    "city",
    "district",
    "country",
    "lat",
    "lng",
    "rating",
    "visit_duration_min",
    "opening_hours",
    "price_level",
    "tags",
}

SEOUL_GU = {
    "Jongno-gu", "Jung-gu", "Yongsan-gu", "Seongdong-gu", "Gwangjin-gu",
    "Dongdaemun-gu", "Jungnang-gu", "Seongbuk-gu", "Gangbuk-gu", "Dobong-gu",
    "Nowon-gu", "Eunpyeong-gu", "Seodaemun-gu", "Mapo-gu", "Yangcheon-gu",
    "Gangseo-gu", "Guro-gu", "Geumcheon-gu", "Yeongdeungpo-gu", "Dongjak-gu",
    "Gwanak-gu", "Seocho-gu", "Gangnam-gu", "Songpa-gu", "Gangdong-gu",
}  # fmt: skip
BUSAN_DISTRICTS = {
    "Jung-gu", "Seo-gu", "Dong-gu", "Yeongdo-gu", "Busanjin-gu", "Dongnae-gu",
    "Nam-gu", "Buk-gu", "Haeundae-gu", "Saha-gu", "Geumjeong-gu", "Gangseo-gu",
    "Yeonje-gu", "Suyeong-gu", "Sasang-gu", "Gijang-gun",
}  # fmt: skip
JEJU_CITIES = {"Jeju-si", "Seogwipo-si"}

CITY_COUNTS = {"Seoul": 150, "Busan": 80, "Jeju": 100}
OVERSEAS = {
    "Tokyo": "JP",
    "Osaka": "JP",
    "Kyoto": "JP",
    "Bangkok": "TH",
    "Singapore": "SG",
    "Taipei": "TW",
    "Hong Kong": "HK",
    "Paris": "FR",
    "London": "GB",
    "New York": "US",
}
# SPEC.md: the categories of the Korean regions.
REGION_CATEGORIES = {
    "Seoul": {"culture", "shopping", "food"},
    "Busan": {"ocean", "culture", "food"},
    "Jeju": {"nature", "leisure", "culture"},
}
# (south, north, west, east) of each city's administrative area, slightly rounded outwards.
CITY_BOXES = {
    "Seoul": (37.41, 37.72, 126.73, 127.27),
    "Busan": (34.87, 35.40, 128.76, 129.31),
    "Jeju": (33.10, 33.60, 126.10, 127.00),
    "Tokyo": (35.50, 35.90, 139.40, 139.95),
    "Osaka": (34.55, 34.75, 135.38, 135.60),
    "Kyoto": (34.88, 35.32, 135.55, 135.90),
    "Bangkok": (13.49, 13.96, 100.32, 100.94),
    "Singapore": (1.16, 1.48, 103.59, 104.10),
    "Taipei": (24.96, 25.21, 121.45, 121.67),
    "Hong Kong": (22.15, 22.57, 113.82, 114.45),
    "Paris": (48.815, 48.902, 2.224, 2.470),
    "London": (51.28, 51.70, -0.51, 0.34),
    "New York": (40.49, 40.92, -74.26, -73.70),
}
# Independently known positions of famous places; the data must stay within 300 m of them.
LANDMARKS = {
    "seoul-gyeongbokgung": (37.5796, 126.9770),
    "seoul-n-seoul-tower": (37.5512, 126.9882),
    "seoul-lotte-world-adventure": (37.5111, 127.0980),
    "busan-haeundae-beach": (35.1587, 129.1604),
    "busan-gamcheon-culture-village": (35.0975, 129.0106),
    "jeju-seongsan-ilchulbong": (33.4581, 126.9425),
    "tokyo-sensoji": (35.7148, 139.7967),
    "kyoto-fushimi-inari": (34.9671, 135.7727),
    "singapore-merlion-park": (1.2868, 103.8545),
    "paris-eiffel-tower": (48.8584, 2.2945),
    "london-british-museum": (51.5194, -0.1270),
    "newyork-statue-of-liberty": (40.6892, -74.0445),
}
# Well-known weekly closing days.
CLOSED_ON = {
    "seoul-gyeongbokgung": "tue",
    "seoul-jongmyo": "tue",
    "seoul-changdeokgung": "mon",
    "seoul-deoksugung": "mon",
    "paris-louvre": "tue",
    "paris-musee-dorsay": "mon",
    "newyork-the-met": "wed",
    "tokyo-ghibli-museum": "tue",
}
HHMM = re.compile(r"^([0-3]\d|4[0-7]):[0-5]\d$")
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
TAG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def places() -> list[dict[str, Any]]:
    return _load(DATA / "places.json")


@pytest.fixture(scope="module")
def by_id(places: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in places}


@pytest.fixture(scope="module")
def profiles() -> list[dict[str, Any]]:
    return _load(AI / "preference_profiles.json")


@pytest.fixture(scope="module")
def templates() -> list[dict[str, Any]]:
    return _load(AI / "itinerary_templates.json")


@pytest.fixture(scope="module")
def reviews() -> list[dict[str, Any]]:
    return _load(AI / "reviews.json")


@pytest.fixture(scope="module")
def seasons() -> list[dict[str, Any]]:
    return _load(AI / "seasonal_patterns.json")


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


# --------------------------------------------------------------------------- places


def test_counts_per_city(places: list[dict[str, Any]]) -> None:
    counts = Counter(p["city"] for p in places)
    assert len(places) == 530
    for city, expected in CITY_COUNTS.items():
        assert counts[city] == expected, city
    assert {c for c in counts if c not in CITY_COUNTS} == set(OVERSEAS)
    for city in OVERSEAS:
        assert counts[city] == 20, city
    assert sum(counts[c] for c in OVERSEAS) == 200


def test_every_seoul_gu_has_at_least_two_places(places: list[dict[str, Any]]) -> None:
    assert len(SEOUL_GU) == 25
    districts = Counter(p["district"] for p in places if p["city"] == "Seoul")
    assert set(districts) == SEOUL_GU
    assert min(districts.values()) >= 2, districts


def test_every_busan_district_is_covered(places: list[dict[str, Any]]) -> None:
    assert len(BUSAN_DISTRICTS) == 16
    districts = {p["district"] for p in places if p["city"] == "Busan"}
    assert districts == BUSAN_DISTRICTS


def test_both_jeju_cities_are_well_represented(places: list[dict[str, Any]]) -> None:
    districts = Counter(p["district"] for p in places if p["city"] == "Jeju")
    assert set(districts) == JEJU_CITIES
    assert min(districts.values()) >= 40, districts


def test_fields_and_ids(places: list[dict[str, Any]]) -> None:
    ids = [p["id"] for p in places]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    for p in places:
        assert set(p) == PLACE_KEYS, p["id"]
        assert SLUG.match(p["id"]), p["id"]
        prefix = p["city"].lower().replace(" ", "")
        assert p["id"].startswith(prefix + "-"), p["id"]
        assert p["name_en"].strip(), p["id"]
        assert p["district"].strip(), p["id"]
        assert HANGUL.search(p["name_ko"]), p["id"]


def test_countries(places: list[dict[str, Any]]) -> None:
    expected = {"Seoul": "KR", "Busan": "KR", "Jeju": "KR", **OVERSEAS}
    for p in places:
        assert p["country"] == expected[p["city"]], p["id"]


def test_coordinates_inside_city_bounds(places: list[dict[str, Any]]) -> None:
    outside = []
    for p in places:
        south, north, west, east = CITY_BOXES[p["city"]]
        if not (south <= p["lat"] <= north and west <= p["lng"] <= east):
            outside.append((p["id"], p["lat"], p["lng"]))
        assert round(p["lat"], 6) == p["lat"], p["id"]
        assert round(p["lng"], 6) == p["lng"], p["id"]
    assert not outside


def test_famous_landmarks_are_where_they_should_be(by_id: dict[str, dict[str, Any]]) -> None:
    for place_id, (lat, lng) in LANDMARKS.items():
        place = by_id[place_id]
        assert _distance_m(place["lat"], place["lng"], lat, lng) < 300, place_id


def test_no_two_places_share_a_position(places: list[dict[str, Any]]) -> None:
    positions = Counter((p["lat"], p["lng"]) for p in places)
    assert max(positions.values()) == 1


def test_categories(places: list[dict[str, Any]]) -> None:
    for p in places:
        assert p["category"] in CATEGORIES, p["id"]
    for region, allowed in REGION_CATEGORIES.items():
        used = {p["category"] for p in places if p["city"] == region}
        assert used == allowed, region
    overseas = {p["category"] for p in places if p["city"] in OVERSEAS}
    assert overseas == CATEGORIES


def test_scalar_fields(places: list[dict[str, Any]]) -> None:
    for p in places:
        assert isinstance(p["rating"], float), p["id"]
        assert 1.0 <= p["rating"] <= 5.0, p["id"]
        assert round(p["rating"], 1) == p["rating"], p["id"]
        assert isinstance(p["visit_duration_min"], int), p["id"]
        assert 20 <= p["visit_duration_min"] <= 300, p["id"]
        assert isinstance(p["price_level"], int), p["id"]
        assert 0 <= p["price_level"] <= 4, p["id"]
        tags = p["tags"]
        assert 3 <= len(tags) <= 6, p["id"]
        assert len(set(tags)) == len(tags), p["id"]
        assert all(TAG.match(t) for t in tags), p["id"]


def test_opening_hours_are_well_formed(places: list[dict[str, Any]]) -> None:
    for p in places:
        hours = p["opening_hours"]
        assert tuple(hours) == DAYS, p["id"]
        assert any(hours[d] for d in DAYS), f"{p['id']} is never open"
        for day in DAYS:
            intervals = hours[day]
            if intervals is None:
                continue
            assert isinstance(intervals, list), (p["id"], day)
            assert intervals, (p["id"], day)
            previous_close = -1
            for interval in intervals:
                assert len(interval) == 2, (p["id"], day)
                opens, closes = interval
                assert HHMM.match(opens), (p["id"], day)
                assert HHMM.match(closes), (p["id"], day)
                assert _minutes(opens) < 24 * 60, (p["id"], day)
                assert _minutes(opens) < _minutes(closes), (p["id"], day, interval)
                # Past-midnight closes ("26:00") stay below a full day of opening.
                assert _minutes(closes) - _minutes(opens) <= 24 * 60, (p["id"], day)
                assert _minutes(opens) > previous_close, (p["id"], day)
                previous_close = _minutes(closes)


def test_known_closing_days(by_id: dict[str, dict[str, Any]]) -> None:
    for place_id, day in CLOSED_ON.items():
        hours = by_id[place_id]["opening_hours"]
        assert hours[day] is None, place_id
        assert sum(hours[d] is None for d in DAYS) == 1, place_id


def test_places_pass_the_location_service_input_model(places: list[dict[str, Any]]) -> None:
    schemas = pytest.importorskip("services.location.schemas")
    for p in places:
        schemas.PlaceIn.model_validate(p)


# --------------------------------------------------------------------------- AI data


def test_preference_profiles(profiles: list[dict[str, Any]], places: list[dict]) -> None:
    assert len(profiles) == 50
    assert len({p["id"] for p in profiles}) == 50
    known_tags = {t for place in places for t in place["tags"]}
    keys = {
        "id",
        "name",
        "preferred_categories",
        "pace",
        "budget",
        "travellers",
        "interests",
        "mobility",
    }
    for p in profiles:
        assert set(p) == keys, p["id"]
        assert p["preferred_categories"]
        assert set(p["preferred_categories"]) <= CATEGORIES
        assert p["pace"] in {"relaxed", "normal", "packed"}
        assert p["budget"] in {"low", "medium", "high"}
        assert p["mobility"] in {"walk", "transit", "car"}
        assert isinstance(p["travellers"], int)
        assert 1 <= p["travellers"] <= 10
        assert p["interests"], p["id"]
        assert set(p["interests"]) <= known_tags, p["id"]
    for field in ("pace", "budget", "mobility"):
        assert len({p[field] for p in profiles}) == 3, field


def test_itinerary_templates(
    templates: list[dict[str, Any]], by_id: dict[str, dict[str, Any]]
) -> None:
    assert len(templates) == 30
    assert len({t["id"] for t in templates}) == 30
    lengths = Counter(t["days"] for t in templates)
    assert set(lengths) == set(range(1, 8))
    assert min(lengths.values()) >= 4, lengths
    for t in templates:
        assert set(t) == {"id", "city", "days", "title", "pace", "day_plans"}, t["id"]
        assert t["title"].strip()
        assert t["pace"] in {"relaxed", "normal", "packed"}
        assert len(t["day_plans"]) == t["days"], t["id"]
        visited = [pid for day in t["day_plans"] for pid in day]
        assert len(visited) == len(set(visited)), f"{t['id']} repeats a place"
        for day in t["day_plans"]:
            assert 3 <= len(day) <= 6, t["id"]
            for place_id in day:
                assert place_id in by_id, (t["id"], place_id)
                assert by_id[place_id]["city"] == t["city"], (t["id"], place_id)


def test_reviews(
    reviews: list[dict[str, Any]],
    profiles: list[dict[str, Any]],
    by_id: dict[str, dict[str, Any]],
) -> None:
    assert len(reviews) == 500
    assert len({r["id"] for r in reviews}) == 500
    profile_ids = {p["id"] for p in profiles}
    for r in reviews:
        assert set(r) == {"id", "place_id", "profile_id", "stars", "text", "visited_month"}
        assert r["place_id"] in by_id, r["id"]
        assert r["profile_id"] in profile_ids, r["id"]
        assert isinstance(r["stars"], int), r["id"]
        assert 1 <= r["stars"] <= 5, r["id"]
        assert 1 <= r["visited_month"] <= 12, r["id"]
        assert by_id[r["place_id"]]["name_en"] in r["text"], r["id"]
        assert 20 <= len(r["text"]) <= 300, r["id"]
    stars = Counter(r["stars"] for r in reviews)
    assert set(stars) == {1, 2, 3, 4, 5}
    # Skewed like real review sites: mostly 4-5 stars, few 1-2.
    assert stars[5] > stars[4] > stars[3] > max(stars[1], stars[2])
    assert len({r["text"] for r in reviews}) > 450
    assert len({r["visited_month"] for r in reviews}) == 12


def test_seasonal_patterns(seasons: list[dict[str, Any]]) -> None:
    assert [s["month"] for s in seasons] == list(range(1, 13))
    expected_season = {
        **dict.fromkeys((12, 1, 2), "winter"),
        **dict.fromkeys((3, 4, 5), "spring"),
        **dict.fromkeys((6, 7, 8), "summer"),
        **dict.fromkeys((9, 10, 11), "autumn"),
    }
    for s in seasons:
        assert set(s) == {
            "month",
            "season",
            "avg_temp_c_seoul",
            "rain_days",
            "category_weights",
            "notes",
        }
        assert s["season"] == expected_season[s["month"]]
        assert set(s["category_weights"]) == CATEGORIES
        assert all(0.5 <= w <= 1.5 for w in s["category_weights"].values()), s["month"]
        assert 0 < s["rain_days"] <= 31
        assert s["notes"].strip()
    by_month = {s["month"]: s for s in seasons}
    temps = [by_month[m]["avg_temp_c_seoul"] for m in range(1, 13)]
    assert min(temps) == by_month[1]["avg_temp_c_seoul"] < 0
    assert max(temps) == by_month[8]["avg_temp_c_seoul"] > 24
    assert max(range(1, 13), key=lambda m: by_month[m]["rain_days"]) == 7  # jangma
    for month in (7, 8):  # heat and monsoon: the sea and indoor shopping, not hiking
        weights = by_month[month]["category_weights"]
        assert weights["ocean"] >= 1.3
        assert weights["nature"] < 1.0
    october = by_month[10]["category_weights"]
    assert october["nature"] == max(october.values())


def test_ai_data_is_reproducible_from_the_generator(places: list[dict[str, Any]]) -> None:
    spec = importlib.util.spec_from_file_location("generate_ai_data", DATA / "generate_ai_data.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, items in module.build_all(places).items():
        assert _load(AI / name) == items, f"ai/{name} is stale: rerun generate_ai_data.py"

"""Seeded synthetic Seoul-like places, for tests and for the benchmark when the real data file is
absent. Places cluster around real Seoul districts with category-typical opening hours (museums
closed on Monday, palaces on Tuesday, restaurants with a lunch break, bars past midnight).
"""

from __future__ import annotations

import random

from services.ai.planner.models import GeoPoint, Place, Weekday

SEOUL_CITY_HALL = GeoPoint(lat=37.5663, lng=126.9779)

# (name, lat, lng, spread in degrees): real district centres.
_DISTRICTS = [
    ("Jongno", 37.5735, 126.9790, 0.008),
    ("Insadong", 37.5740, 126.9850, 0.004),
    ("Myeongdong", 37.5636, 126.9826, 0.004),
    ("Hongdae", 37.5563, 126.9236, 0.006),
    ("Itaewon", 37.5345, 126.9946, 0.005),
    ("Gangnam", 37.4979, 127.0276, 0.010),
    ("Jamsil", 37.5133, 127.1001, 0.008),
    ("Yeouido", 37.5251, 126.9255, 0.007),
    ("Dongdaemun", 37.5711, 127.0095, 0.005),
    ("Seongsu", 37.5446, 127.0559, 0.006),
    ("Bukhansan", 37.6588, 126.9779, 0.015),
]

_WEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hours(
    intervals: list[tuple[str, str]], closed: tuple[Weekday, ...] = ()
) -> dict[Weekday, list[tuple[str, str]] | None]:
    return {day: (None if day in closed else list(intervals)) for day in _WEEK}


# category → (share, duration range min, opening-hours factory, tags)
_CATEGORIES = {
    "culture": (0.22, (60, 120), lambda r: _hours([("09:00", "18:00")], ("tue",)), "palace"),
    "museum": (0.12, (60, 150), lambda r: _hours([("10:00", "18:00")], ("mon",)), "art"),
    "food": (0.2, (60, 90), lambda r: _hours([("11:00", "15:00"), ("17:00", "22:00")]), "korean"),
    "shopping": (0.14, (60, 120), lambda r: _hours([("10:30", "22:00")]), "fashion"),
    "market": (0.08, (45, 90), lambda r: _hours([("09:00", "19:00")], ("sun",)), "street food"),
    "nature": (0.1, (60, 150), lambda r: None, "hiking"),
    "cafe": (0.06, (30, 60), lambda r: _hours([("10:00", "22:00")]), "dessert"),
    "nightlife": (0.04, (90, 120), lambda r: _hours([("18:00", "02:00")], ("mon",)), "bar"),
    "landmark": (0.04, (45, 90), lambda r: _hours([("10:00", "23:00")]), "view"),
}


def seoul_places(count: int = 150, seed: int = 7) -> list[Place]:
    rng = random.Random(seed)
    categories = list(_CATEGORIES)
    weights = [_CATEGORIES[c][0] for c in categories]
    places: list[Place] = []
    for i in range(count):
        category = rng.choices(categories, weights)[0]
        _, (dmin, dmax), hours, tag = _CATEGORIES[category]
        district, lat, lng, spread = rng.choice(_DISTRICTS)
        if category == "nature" and rng.random() < 0.5:
            district, lat, lng, spread = _DISTRICTS[-1]
        places.append(
            Place(
                id=f"seoul-{i:03d}",
                name=f"{district} {category} {i}",
                category=category,
                lat=round(lat + rng.gauss(0, spread), 6),
                lng=round(lng + rng.gauss(0, spread), 6),
                rating=round(rng.uniform(3.0, 5.0), 1),
                visit_duration_min=rng.randrange(dmin, dmax + 1, 15),
                opening_hours=hours(rng),
                price_level=rng.randint(0, 4),
                tags=(tag, district.lower()),
                city="Seoul",
            )
        )
    return places

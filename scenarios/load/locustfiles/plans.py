"""The choices a simulated traveller makes, as plain functions of a random generator.

Kept apart from the locust user (and from gevent, which locust patches in on import) so that the
request bodies are unit tested in an ordinary process.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from scenarios.load.locustfiles.catalog import (
    CATEGORIES,
    CATEGORY_FILTER_SHARE,
    CITIES,
    CITY_BY_NAME,
    NEARBY_LIMIT,
    SEARCH_LIMIT,
    City,
)

PASSWORD = "Journey-load-2024"  # meets user-service's rule: ≥ 10 chars, a letter and a digit
EMAIL_DOMAIN = "example.com"  # reserved for examples: never a real mailbox

_WEIGHTS = [c.weight for c in CITIES]


def pick_city(rng: random.Random) -> City:
    return rng.choices(CITIES, weights=_WEIGHTS, k=1)[0]


def nearby_query(rng: random.Random, city: City | None = None) -> tuple[City, dict[str, Any]]:
    """A map screen's query: a known spot, one of the city's radii, sometimes one category."""
    city = city or pick_city(rng)
    spot = rng.choice(city.spots)
    params: dict[str, Any] = {
        "lat": spot.lat,
        "lng": spot.lng,
        "radius_m": rng.choice(city.radii_m),
        "limit": NEARBY_LIMIT,
    }
    if rng.random() < CATEGORY_FILTER_SHARE:
        params["category"] = rng.choice(CATEGORIES)
    return city, params


def search_query(rng: random.Random) -> dict[str, Any]:
    city = pick_city(rng)
    return {"q": rng.choice(city.search_terms), "city": city.name, "limit": SEARCH_LIMIT}


def new_email(rng: random.Random) -> str:
    # Unique across locust processes and runs: a random UUID, not a counter.
    return f"journey-{uuid.UUID(int=rng.getrandbits(128)).hex}@{EMAIL_DOMAIN}"


def trip_body(rng: random.Random, city: City, place_ids: list[str], today: date) -> dict[str, Any]:
    """A trip a traveller would plan: a real city, dates ahead, 1–3 places they looked at."""
    start = today + timedelta(days=rng.randint(14, 120))
    days = rng.choices((1, 2, 3, 4, 5), weights=(1, 3, 4, 3, 1), k=1)[0]
    must_visit = rng.sample(place_ids, k=min(len(place_ids), rng.randint(1, 3)))
    return {
        "title": f"{city.name} getaway",
        "destination_city": city.name,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "travellers": rng.choices((1, 2, 3, 4), weights=(3, 5, 2, 2), k=1)[0],
        "budget": rng.choice(("low", "medium", "high")),
        "pace": rng.choice(("relaxed", "normal", "packed")),
        "preferred_categories": rng.sample(CATEGORIES, k=rng.randint(0, 2)),
        "must_visit": must_visit,
        "mode": rng.choice(("transit", "walk", "car")),
    }


def profile_update(rng: random.Random) -> dict[str, Any]:
    return {
        "preferences": {
            "preferred_categories": rng.sample(CATEGORIES, k=rng.randint(1, 3)),
            "pace": rng.choice(("relaxed", "normal", "packed")),
            "budget": rng.choice(("low", "medium", "high")),
            "mobility": rng.choice(("walk", "transit", "car")),
        }
    }


@dataclass
class Memory:
    """What one traveller remembers between tasks, each list capped (a long run stays small)."""

    places: dict[str, deque[str]] = field(default_factory=dict)  # city → place ids seen
    trips: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=20))  # (id, city)
    itineraries: deque[tuple[str, str]] = field(
        default_factory=lambda: deque(maxlen=20)
    )  # (trip id, schedule id), done ones
    places_per_city: int = 40

    def saw_places(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            city, place_id = item.get("city"), item.get("id")
            if isinstance(city, str) and isinstance(place_id, str) and city in CITY_BY_NAME:
                seen = self.places.setdefault(city, deque(maxlen=self.places_per_city))
                if place_id not in seen:
                    seen.append(place_id)

    def any_place(self, rng: random.Random) -> str | None:
        cities = [c for c, ids in self.places.items() if ids]
        return rng.choice(self.places[rng.choice(cities)]) if cities else None

    def places_in(self, city: str) -> list[str]:
        return list(self.places.get(city, ()))

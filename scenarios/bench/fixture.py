"""What the route benchmarks need before they start: accounts with tokens, warm caches, bodies.

Made once per `nox -s bench` through the gateway (so the services' own caches fill the way
traffic fills them) and written as JSON for the locust processes (`bench_routes.py`):

* `accounts` — registered and logged in (email, password, access_token);
* `nearby_queries` — every (spot, radius) of the journeys' catalogue, each already asked, so the
  cached-nearby run measures cache hits;
* `search_queries`, `trip_bodies` — the journeys' own shapes, with real place ids.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from scenarios.load.locustfiles import plans, routes
from scenarios.load.locustfiles.catalog import CITIES, CITY_BY_NAME, NEARBY_LIMIT, SEARCH_LIMIT

_TIMEOUT = httpx.Timeout(30.0)


class FixtureError(RuntimeError):
    """The deployment refused what the benchmark needs (the message has the status and body)."""


@dataclass
class BenchFixture:
    accounts: list[dict[str, str]] = field(default_factory=list)
    nearby_queries: list[dict[str, Any]] = field(default_factory=list)
    search_queries: list[dict[str, Any]] = field(default_factory=list)
    trip_bodies: list[dict[str, Any]] = field(default_factory=list)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")
        return path


def _expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise FixtureError(
            f"{what}: HTTP {response.status_code} {response.text[:200]} — the benchmark needs "
            "the rate limit off (deploy with TRIPGEN_RATE_LIMIT_PER_MINUTE=0)"
            if response.status_code == 429
            else f"{what}: HTTP {response.status_code} {response.text[:200]}"
        )
    return response.json() if response.content else {}


def new_account(client: httpx.Client, rng: random.Random) -> dict[str, str]:
    email = plans.new_email(rng)
    body = {"email": email, "password": plans.PASSWORD, "name": "Bench"}
    _expect(client.post(routes.REGISTER.path(), json=body), 201, "register")
    login = {"email": email, "password": plans.PASSWORD}
    tokens = _expect(client.post(routes.LOGIN.path(), json=login), 200, "login")
    return {
        "email": email,
        "password": plans.PASSWORD,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
    }


def nearby_queries() -> list[dict[str, Any]]:
    """Every (spot, radius) of the catalogue, as the journeys ask (limit 20, no category)."""
    return [
        {"lat": spot.lat, "lng": spot.lng, "radius_m": radius, "limit": NEARBY_LIMIT}
        for city in CITIES
        for spot in city.spots
        for radius in city.radii_m
    ]


def search_queries() -> list[dict[str, Any]]:
    return [
        {"q": term, "city": city.name, "limit": SEARCH_LIMIT}
        for city in CITIES
        for term in city.search_terms
    ]


def build_fixture(base_url: str, accounts: int, *, seed: int = 7) -> BenchFixture:
    """Register `accounts` users (8 at a time), warm every nearby key, make trip bodies (the
    same bodies for the same `seed`)."""
    rng = random.Random(seed)
    # Emails must differ from every earlier run's on a reused deployment: not from `seed`.
    fresh = random.Random()
    seeds = [fresh.getrandbits(64) for _ in range(accounts)]
    fixture = BenchFixture(nearby_queries=nearby_queries(), search_queries=search_queries())
    with httpx.Client(base_url=base_url, timeout=_TIMEOUT) as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            fixture.accounts = list(
                pool.map(lambda s: new_account(client, random.Random(s)), seeds)
            )
        headers = {"Authorization": f"Bearer {fixture.accounts[0]['access_token']}"}
        seen: dict[str, list[str]] = {}
        for query in fixture.nearby_queries:
            # Three times: nginx spreads them over the replicas, so each one's L1 holds it too.
            for _ in range(3):
                page = _expect(
                    client.get(routes.NEARBY.path(), params=query, headers=headers), 200, "nearby"
                )
            for item in page.get("items", []):
                if item.get("city") in CITY_BY_NAME:
                    ids = seen.setdefault(item["city"], [])
                    if item["id"] not in ids:
                        ids.append(item["id"])
    today = datetime.now(UTC).date()
    for city, ids in sorted(seen.items()):
        for _ in range(5):
            fixture.trip_bodies.append(plans.trip_body(rng, CITY_BY_NAME[city], ids, today))
    if not fixture.trip_bodies:
        raise FixtureError("nearby searches found no places: is the sample data loaded?")
    return fixture

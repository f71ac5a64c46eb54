"""One locust user class per benchmarked route, zero think time (`nox -s bench` picks one class
per run by name, e.g. `locust -f bench_routes.py ProfileRead`).

Accounts, tokens and request bodies come from the fixture file that `scenarios.bench` writes
before the runs (`TRIPGEN_BENCH_FIXTURE`), so a route's run holds only that route's requests:
no sign-up or login in the figures of the others. Request names are the journeys' (`routes.py`).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from locust import FastHttpUser, constant, constant_throughput, task

from scenarios.load.locustfiles import routes
from scenarios.load.locustfiles.routes import BASELINE_NAME, BASELINE_PATH, Route
from scenarios.load.locustfiles.settings import BENCH_FIXTURE_ENV as FIXTURE_ENV


def _fixture() -> dict[str, Any]:
    path = os.environ.get(FIXTURE_ENV)
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else {}


FIXTURE = _fixture()
# Query strings and JSON bodies encoded once per process, not per request: the load generator
# shares the cores with the stack, and what it spends encoding is taken from the routes.
ENCODED: dict[str, list[str]] = {
    "nearby_queries": [urlencode(q) for q in FIXTURE.get("nearby_queries", [])],
    "search_queries": [urlencode(q) for q in FIXTURE.get("search_queries", [])],
    "trip_bodies": [json.dumps(b) for b in FIXTURE.get("trip_bodies", [])],
}
PACED_RPS_PER_USER = 5.0  # OtherRoutesPaced: requests per second per user
_next_user = itertools.count()


class _RouteUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        accounts = FIXTURE.get("accounts") or []
        if not accounts:
            raise RuntimeError(f"{FIXTURE_ENV} names no fixture with accounts")
        self.index = next(_next_user)
        self.account: dict[str, str] = accounts[self.index % len(accounts)]
        self.headers = {"Authorization": f"Bearer {self.account['access_token']}"}
        self.json_headers = {**self.headers, "Content-Type": "application/json"}
        self.turn = itertools.count(self.index)

    def _pick(self, key: str) -> Any:
        items = ENCODED[key] if key in ENCODED else FIXTURE[key]
        return items[next(self.turn) % len(items)]

    def _call(
        self,
        route: Route,
        *,
        expect: int = 200,
        query: str = "",
        body: dict[str, Any] | None = None,
        encoded_body: str | None = None,  # JSON text
        headers: dict[str, str] | None = None,
    ) -> None:
        if encoded_body is not None:
            headers = self.json_headers if headers is None else headers
        with self.client.request(
            route.method,
            f"{route.path()}?{query}" if query else route.path(),
            name=route.name,
            json=body,
            data=encoded_body,
            headers=self.headers if headers is None else headers,
            catch_response=True,
        ) as response:
            if response.status_code == expect:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:120]}")


class Baseline(FastHttpUser):
    """The trivial app behind the same nginx: the ceiling every route is compared with."""

    wait_time = constant(0)

    @task
    def trivial(self) -> None:
        self.client.get(BASELINE_PATH, name=BASELINE_NAME)


class CachedNearby(_RouteUser):
    """Nearby places around the journeys' spots (every key cached before the run)."""

    @task
    def nearby(self) -> None:
        self._call(routes.NEARBY, query=self._pick("nearby_queries"))


class PlaceSearch(_RouteUser):
    """Text search (PostgreSQL trigram, not cached): shown for reference, no target."""

    @task
    def search(self) -> None:
        self._call(routes.SEARCH, query=self._pick("search_queries"))


class TripCreate(_RouteUser):
    """A trip with 1–3 must-visit places (trip-service checks them with location-service)."""

    @task
    def create(self) -> None:
        self._call(routes.TRIP_CREATE, encoded_body=self._pick("trip_bodies"), expect=201)


class ProfileRead(_RouteUser):
    @task
    def me(self) -> None:
        self._call(routes.PROFILE)


class OtherRoutesPaced(_RouteUser):
    """Cheap routes at a steady pace (not zero wait): their latency, alone and beside a login
    burst, shows whether password hashing takes the CPU other requests need."""

    wait_time = constant_throughput(PACED_RPS_PER_USER)

    @task
    def me(self) -> None:
        self._call(routes.PROFILE)

    @task
    def nearby(self) -> None:
        self._call(routes.NEARBY, query=self._pick("nearby_queries"))


class Login(_RouteUser):
    """Email + password → tokens (argon2id verify dominates)."""

    @task
    def login(self) -> None:
        body = {"email": self.account["email"], "password": self.account["password"]}
        self._call(routes.LOGIN, body=body, headers={})

"""Every `/api` route of every service is rate-limited (SPEC.md: 100 requests/min per user).

The limit is not a router-wide dependency any more: each caller check counts the request first
(`services.kit.access.limited`), and a route with no caller to check takes `RateLimited`
itself. So a route that forgot both would be unlimited; this walks each app's routes and their
dependency trees and names any such route. That a request is counted once however many checks
run is held by the services' own 429 tests (a limit of N lets exactly N requests through).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from services.ai.app import create_app as ai_app
from services.kit.access import LIMITING
from services.location.app import create_app as location_app
from services.trip.app import create_app as trip_app
from services.user.app import create_app as user_app

APPS: dict[str, Callable[[], FastAPI]] = {
    "user": user_app,
    "trip": trip_app,
    "location": location_app,
    "ai": ai_app,
}


def calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from calls(sub)


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[APIRoute, set[object]]]:
    """Each `/api` route with the calls it depends on. FastAPI keeps an included router as one
    entry (its routes and the dependencies given at inclusion inside), so this descends."""
    for route in routes:
        if isinstance(route, APIRoute):
            if route.path.startswith("/api/"):
                yield route, set(calls(route.dependant))
            continue
        included = getattr(route, "original_router", None)
        if included is None:
            continue
        context = getattr(route, "include_context", None)
        extra = {d.dependency for d in getattr(context, "dependencies", [])}
        for inner, inner_calls in api_routes(included.routes):
            yield inner, inner_calls | extra


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_api_route_counts_against_the_rate_limit(service: str) -> None:
    routes = list(api_routes(APPS[service]().routes))
    assert len(routes) >= 2, f"{service}-service: too few /api routes found to check"
    unlimited = [
        f"{sorted(r.methods or ())} {r.path}"
        for r, depends_on in routes
        if not depends_on & LIMITING
    ]
    assert not unlimited, f"{service}-service routes with no rate limit: {unlimited}"


def test_the_check_finds_an_unlimited_route() -> None:
    """The walk above would see a route that takes neither a limited check nor `RateLimited`."""
    app = FastAPI()

    @app.get("/api/open")
    async def open_route() -> dict[str, str]:
        return {}

    [(_, depends_on)] = api_routes(app.routes)
    assert not depends_on & LIMITING

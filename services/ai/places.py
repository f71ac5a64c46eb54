"""location-service client: a city's candidate places, with an in-process TTL cache per city.

contracts.md › Service-to-service: `GET {location_url}/api/locations/places?city=…&limit=1000`
with a service token (no user to forward: the worker acts on a queue message). Places change
rarely and every generation for a city needs all of them, so each replica keeps each city's list
for `ttl_s`; concurrent generations for one city share a single request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from pydantic import ValidationError

from services.ai.errors import GenerationUnavailable
from services.ai.planner import Place
from services.kit.auth import service_token
from services.kit.resources import Resources

log = logging.getLogger(__name__)
PAGE_SIZE = 1000  # location-service's largest page
MAX_PAGES = 20  # a city of 20,000 places is a data error, not a candidate list


class PlacesClient:
    def __init__(self, resources: Resources, base_url: str, ttl_s: float) -> None:
        # The resources, not their http client: tests (and a reload) may swap the client.
        self.resources = resources
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, list[Place]]] = {}
        self._inflight: dict[str, asyncio.Future[list[Place]]] = {}

    async def city_places(self, city: str) -> list[Place]:
        """The city's places as planner input (an unknown city has none)."""
        key = city.strip().casefold()
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[list[Place]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            places = await self._fetch(city.strip())
            self._cache[key] = (time.monotonic() + self.ttl_s, places)
            future.set_result(places)
            return places
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._inflight[key]

    def forget(self) -> None:
        self._cache.clear()

    async def _fetch(self, city: str) -> list[Place]:
        places: list[Place] = []
        offset = 0
        for _ in range(MAX_PAGES):
            page = await self._page(city, offset)
            items = page.get("items")
            if not isinstance(items, list):
                raise GenerationUnavailable("location-service answered without an items list")
            places.extend(p for item in items if (p := to_place(item)) is not None)
            offset += len(items)
            total = page.get("total")
            if not items or not isinstance(total, int) or offset >= total:
                break
        return places

    async def _page(self, city: str, offset: int) -> dict[str, Any]:
        token = service_token(self.resources.tokens, "ai")
        params: dict[str, str | int] = {"city": city, "limit": PAGE_SIZE, "offset": offset}
        try:
            response = await self.resources.http.get(
                f"{self.base_url}/api/locations/places",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            log.warning("location-service unreachable: %r", exc)
            raise GenerationUnavailable(
                f"location-service is unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code != 200:
            # 401/403: the services disagree on the signing key; 404: a wrong base URL;
            # 422: a city name location-service refuses (trip-service checked it, so this
            # is not the traveller's doing); 5xx/429: overloaded. All worth a retry.
            raise GenerationUnavailable(
                f"location-service answered {response.status_code} for the places of {city!r}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise GenerationUnavailable("location-service answered with invalid JSON") from exc
        if not isinstance(body, dict):
            raise GenerationUnavailable("location-service answered with an unexpected shape")
        return body


def to_place(item: Any) -> Place | None:
    """A location-service place as the planner's `Place`; None (and a log line) if unusable."""
    if not isinstance(item, dict):
        return None
    try:
        return Place(
            id=item["id"],
            name=item.get("name_en") or item.get("name_ko") or item["id"],
            category=item["category"],
            lat=item["lat"],
            lng=item["lng"],
            rating=item["rating"],
            visit_duration_min=item["visit_duration_min"],
            opening_hours=item.get("opening_hours"),
            price_level=item.get("price_level", 1),
            tags=tuple(item.get("tags") or ()),
            city=item.get("city"),
        )
    except (KeyError, TypeError, ValidationError) as exc:
        log.warning("skipping place %r from location-service: %s", item.get("id"), exc)
        return None

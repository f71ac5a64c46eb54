"""location-service client: is a city known, which must-visit places are not (contracts.md).

Both answers are kept (the kit's tiered cache, STATIC pattern, the deployment's cities version in
the key): the city list whole, and each place id location-service confirmed, one key per id —
places are reference data that only a data load changes, and a trip create or update would
otherwise cost a call through the gateway. Only confirmations are kept: an id location-service
did not know is asked about again next time, so a place loaded since is accepted at once and an
unknown one is never accepted.

Both calls carry trip-service's own service token (`app.state.service_auth`), so checking a
trip does not spend the caller's per-user rate limit. An unreachable or failing location-service
is a 503 with Retry-After for the caller, never a 500 and never a verdict on the caller's input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import httpx
import orjson

from services.kit.cache import STATIC, TieredCache
from services.kit.errors import ServiceUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
# Keys under which a city entry may carry its names (English, Korean, or a bare `name`).
_CITY_NAME_KEYS = ("name", "city", "name_en", "name_ko")
_KNOWN = b"1"  # the cached value of a confirmed place id


class LocationUnavailable(ServiceUnavailable):
    def __init__(self, reason: str) -> None:
        super().__init__(
            "location-service is not reachable; retry shortly",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
        self.reason = reason


def _items(payload: Any) -> list[Any]:
    """The list inside a response: a bare list, or the first list under a usual key."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in ("items", "cities", "places", "results"):
            if isinstance(payload.get(key), list):
                return payload[key]
    raise ValueError("no list in the response")


def city_index(payload: Any) -> dict[str, str]:
    """Each spelling of each city (case-folded) → the name location-service files places under."""
    index: dict[str, str] = {}
    for item in _items(payload):
        if isinstance(item, str):
            index[item.casefold()] = item
            continue
        if not isinstance(item, dict):
            continue
        names = [item[k] for k in _CITY_NAME_KEYS if isinstance(item.get(k), str) and item[k]]
        for alias in names:
            index.setdefault(alias.casefold(), names[0])
    return index


@lru_cache(maxsize=4)
def _parsed_city_index(raw: bytes) -> dict[str, str]:
    """The index of a cached city list, parsed once per distinct list (not once per request:
    the cache hands back the same bytes, whose hash Python keeps)."""
    return city_index(orjson.loads(raw))


class LocationClient:
    def __init__(
        self, http: httpx.AsyncClient, base_url: str, cache: TieredCache, cities_version: str
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.cache = cache
        # Not location-service's own `static:cities:…` key: each service caches what it parsed
        # from the API, so neither depends on how the other lays out its cache.
        self.cities_key = STATIC.key(resource="trip-cities", version=cities_version)
        self.cities_version = cities_version

    def _place_key(self, place_id: str) -> str:
        return STATIC.key(resource=f"trip-place:{place_id.lower()}", version=self.cities_version)

    async def _get(
        self, path: str, authorization: str | None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization else {}
        try:
            response = await self.http.get(f"{self.base_url}{path}", params=params, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("location-service %s failed: %r", path, exc)
            raise LocationUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return response

    def _refused(self, path: str, response: httpx.Response) -> LocationUnavailable:
        # 401/403 here mean the services disagree on the signing key; 404 a wrong base URL;
        # 5xx/429 an overloaded or broken location-service. None of it is the caller's fault.
        log.warning("location-service %s answered %s", path, response.status_code)
        return LocationUnavailable(f"HTTP {response.status_code}")

    async def canonical_city(self, name: str, authorization: str | None) -> str | None:
        """The city as location-service names it, or None when it has no such city."""

        async def load() -> bytes | None:
            path = "/api/locations/cities"
            response = await self._get(path, authorization)
            if response.status_code != 200:
                raise self._refused(path, response)
            try:
                known = city_index(response.json())
            except ValueError as exc:
                raise LocationUnavailable(f"unreadable city list: {exc}") from exc
            # An empty list (places not loaded yet) is not pinned for the pattern's 24 h.
            return response.content if known else None

        raw = await self.cache.get_or_load(STATIC, self.cities_key, load)
        if raw is None:
            return None
        return _parsed_city_index(raw).get(name.strip().casefold())

    async def unknown_places(self, ids: Sequence[str], authorization: str | None) -> list[str]:
        """The ids among `ids` that location-service does not know, in the order given."""
        if not ids:
            return []
        pending = [i for i in ids if await self.cache.get(STATIC, self._place_key(i)) is None]
        if not pending:
            return []
        path = "/api/locations/places"
        response = await self._get(path, authorization, {"ids": ",".join(pending)})
        if response.status_code in (400, 422):
            # location-service refuses ids it could never hold (e.g. not of its id format).
            return list(pending)
        if response.status_code != 200:
            raise self._refused(path, response)
        try:
            known = _place_ids(_items(response.json()))
        except ValueError as exc:
            raise LocationUnavailable(f"unreadable place list: {exc}") from exc
        for place_id in {i.lower() for i in pending} & known:
            await self.cache.set(STATIC, self._place_key(place_id), _KNOWN)
        return [place_id for place_id in pending if place_id.lower() not in known]


def _place_ids(items: Iterable[Any]) -> set[str]:
    return {str(item["id"]).lower() for item in items if isinstance(item, dict) and "id" in item}

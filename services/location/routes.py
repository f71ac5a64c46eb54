"""location-service routes under /api/locations: places by id, nearby, text search, cities.

Every route needs a bearer token (users, or services with a service token) and is rate limited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import TypeAdapter

from services.kit.access import limited_principal
from services.kit.cache import LOCATION, STATIC
from services.kit.errors import FieldError, NotFound, Unprocessable, field_error
from services.kit.query import query_model, query_parameters
from services.kit.resources import CacheDep
from services.kit.types import Text
from services.kit.vocabulary import Category
from services.location import nearby_cache
from services.location.repository import PlaceRepository
from services.location.resources import LocationDep, RepoDep
from services.location.schemas import (
    CitiesList,
    CityPublic,
    NearbyPage,
    NearbyPlace,
    NearbyQuery,
    PlacePublic,
    PlacesFound,
    PlacesPage,
    SearchQuery,
    SearchResults,
)

router = APIRouter(
    prefix="/api/locations",
    tags=["locations"],
    dependencies=[Depends(limited_principal)],  # the rate limit, then the caller: one dependency
)

JSON = "application/json"
MAX_IDS = 100
# Bump when CitiesList changes shape: the key `static:cities:{version}` then starts afresh.
CITIES_VERSION = "v1"
_CITIES_JSON = TypeAdapter(CitiesList)
_EMPTY_CITIES = _CITIES_JSON.dump_json(CitiesList(items=[], count=0))
CityName = Annotated[Text | None, Query(min_length=1, max_length=100)]


def grid(degrees: float) -> float:
    """Coordinates on the cache key's 5-decimal grid (~1 m); `+ 0.0` turns -0.0 into 0.0."""
    return round(degrees, 5) + 0.0


@router.get(
    "/places/nearby",
    response_model=NearbyPage,
    summary="Places within a radius, nearest first, each with its distance",
    openapi_extra={"parameters": query_parameters(NearbyQuery)},
)
async def nearby(
    location: LocationDep,
    query: Annotated[NearbyQuery, Depends(query_model(NearbyQuery))],
) -> Response:
    # One dependency for the resources, one for the query: each one FastAPI resolves, and each
    # query parameter it checks, costs ~15 µs (services.kit.query).
    repo, cache = location.places, location.cache
    radius_m, limit, category = query.radius_m, query.limit, query.category
    location.nearby_searches.inc()
    # The query runs at the key's coordinates so a cached list means the same for every caller.
    lat, lng = grid(query.lat), grid(query.lng)
    key = LOCATION.key(lat=f"{lat:.5f}", lng=f"{lng:.5f}", radius=radius_m)
    cap = location.settings.nearby_cache_max_places

    async def load() -> bytes:
        rows = await repo.nearby(lat, lng, radius_m, cap + 1)
        places = [NearbyPlace.model_validate(row) for row in rows[:cap]]
        return nearby_cache.encode(places, complete=len(rows) <= cap)

    value = await cache.get_or_load(LOCATION, key, load)
    if value is None or not nearby_cache.is_readable(value):  # written by an older layout
        value = await load()
        await cache.set(LOCATION, key, value)
    body = nearby_cache.page(value, limit, category)
    if body is None:  # the list was cut at the cap before the places asked for
        rows = await repo.nearby(lat, lng, radius_m, limit, category)
        places = [NearbyPlace.model_validate(row) for row in rows]
        body = nearby_cache.page(nearby_cache.encode(places, complete=True), limit)
    return Response(content=body, media_type=JSON)


@router.get(
    "/places/search",
    response_model=SearchResults,
    summary="Text search on Korean and English names and tags, within a city or category",
    openapi_extra={"parameters": query_parameters(SearchQuery)},
)
async def search(
    location: LocationDep,
    query: Annotated[SearchQuery, Depends(query_model(SearchQuery))],
) -> Response:
    text = query.q.strip() if query.q is not None else None
    if text == "":
        raise field_error("q", "must not be blank")
    if text is None and query.city is None and query.category is None:
        raise field_error("q", "give at least one of q, city or category")
    location.text_searches.inc()
    items, count = await location.places.search_json(text, query.city, query.category, query.limit)
    # PostgreSQL wrote the places in `PlacePublic`'s shape (the table's constraints hold what
    # PlaceIn validated on the way in); here they are only framed as a SearchResults.
    return Response(content=b'{"items":%b,"count":%d}' % (items, count), media_type=JSON)


@router.get(
    "/places",
    summary="Places by ids (up to 100), or a city's places paged (up to 1000 a page)",
)
async def places(
    repo: RepoDep,
    ids: Annotated[
        Text | None,
        # 100 ids of at most 128 characters, with their commas and some spaces.
        Query(max_length=MAX_IDS * 130, description="Comma-separated place ids"),
    ] = None,
    city: CityName = None,
    category: Category | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="default 100")] = None,
    offset: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> PlacesFound | PlacesPage:
    if ids is not None and city is None:
        city_only = {"category": category, "limit": limit, "offset": offset}
        given = [name for name, value in city_only.items() if value is not None]
        if given:  # refuse rather than silently ignore
            raise field_error(given[0], "applies to a city listing, not to ids")
        return await _by_ids(repo, ids)
    if city is not None and ids is None:
        rows, total = await repo.in_city(city, category, limit or 100, offset or 0)
        return PlacesPage(
            items=[PlacePublic.model_validate(row) for row in rows],
            total=total,
            limit=limit or 100,
            offset=offset or 0,
        )
    message = "give either ids or city, not both" if ids is not None else "give ids or city"
    raise Unprocessable(
        message,
        errors=[
            FieldError(field="ids", message=message),
            FieldError(field="city", message=message),
        ],
    )


async def _by_ids(repo: PlaceRepository, ids: str) -> PlacesFound:
    wanted = list(dict.fromkeys(part.strip() for part in ids.split(",") if part.strip()))
    if not wanted:
        raise field_error("ids", "give at least one place id")
    if len(wanted) > MAX_IDS:
        raise field_error("ids", f"at most {MAX_IDS} ids at a time")
    found = {row["id"]: row for row in await repo.by_ids(wanted)}
    return PlacesFound(
        items=[PlacePublic.model_validate(found[pid]) for pid in wanted if pid in found],
        missing=[pid for pid in wanted if pid not in found],
    )


@router.get("/places/{place_id}", summary="One place")
async def place(
    repo: RepoDep, place_id: Annotated[Text, Path(min_length=1, max_length=128)]
) -> PlacePublic:
    row = await repo.by_id(place_id)
    if row is None:
        raise NotFound(f"no place {place_id!r}")
    return PlacePublic.model_validate(row)


@router.get("/cities", response_model=CitiesList, summary="Cities with places, and their centres")
async def cities(repo: RepoDep, cache: CacheDep) -> Response:
    async def load() -> bytes | None:
        rows = await repo.cities()
        if not rows:  # before the data load: do not pin an empty list for the L2 TTL
            return None
        items = [CityPublic.model_validate(row) for row in rows]
        return _CITIES_JSON.dump_json(CitiesList(items=items, count=len(items)))

    key = STATIC.key(resource="cities", version=CITIES_VERSION)
    value = await cache.get_or_load(STATIC, key, load)
    return Response(content=value or _EMPTY_CITIES, media_type=JSON)

"""What location-service holds besides the kit's resources, and the typed dependencies to it.

Built once in the app's lifespan (services.location.app) and kept on
`app.state.location_resources`. Dependencies are `async def`: a plain `def` one would cost a
thread-pool hop per request, and each reads `app.state` itself rather than depending on another
dependency (each one FastAPI resolves costs about 15 µs a request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import Counter

from services.kit.cache import TieredCache
from services.location.repository import PlaceRepository
from services.location.settings import LocationSettings


@dataclass(frozen=True)
class LocationResources:
    settings: LocationSettings
    places: PlaceRepository
    # SPEC.md › Autoscaling: the HPA's `search_requests` metric, its two `kind` children.
    nearby_searches: Counter
    text_searches: Counter
    cache: TieredCache


async def get_location_resources(request: Request) -> LocationResources:
    return request.app.state.location_resources


# The hot routes (nearby, text search) take all of it as one dependency.
LocationDep = Annotated[LocationResources, Depends(get_location_resources)]


async def get_repo(request: Request) -> PlaceRepository:
    return request.app.state.location_resources.places


RepoDep = Annotated[PlaceRepository, Depends(get_repo)]

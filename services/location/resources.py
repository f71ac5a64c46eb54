"""What location-service holds besides the kit's resources, and the typed dependencies to it.

Built once in the app's lifespan (services.location.app) and kept on
`app.state.location_resources`. Dependencies are `async def`: a plain `def` one would cost a
thread-pool hop per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import Counter

from services.location.repository import PlaceRepository
from services.location.settings import LocationSettings


@dataclass(frozen=True)
class LocationResources:
    settings: LocationSettings
    places: PlaceRepository
    search_requests: Counter  # SPEC.md › Autoscaling: the HPA's `search_requests` metric


async def get_location_resources(request: Request) -> LocationResources:
    return request.app.state.location_resources


LocationResourcesDep = Annotated[LocationResources, Depends(get_location_resources)]


async def get_repo(resources: LocationResourcesDep) -> PlaceRepository:
    return resources.places


async def get_settings(resources: LocationResourcesDep) -> LocationSettings:
    return resources.settings


async def get_search_requests(resources: LocationResourcesDep) -> Counter:
    return resources.search_requests


RepoDep = Annotated[PlaceRepository, Depends(get_repo)]
SettingsDep = Annotated[LocationSettings, Depends(get_settings)]
SearchRequestsDep = Annotated[Counter, Depends(get_search_requests)]

"""What trip-service holds besides the kit's resources, and the typed dependencies that reach it.

Built once in the app's lifespan (services.trip.app) and kept on `app.state.trip_resources`.
Dependencies are `async def`: a plain `def` one would cost a thread-pool hop per request; each reads
`app.state` itself rather than depending on another dependency (each one FastAPI resolves costs
about 15 µs a request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.kit.outbox import OutboxRelay
from services.trip.locations import LocationClient
from services.trip.repository import TripRepository
from services.trip.schedule_watch import ScheduleWatch
from services.trip.settings import TripSettings


@dataclass(frozen=True)
class TripResources:
    settings: TripSettings
    trips: TripRepository
    outbox: OutboxRelay
    schedules: ScheduleWatch  # wakes long polls of a schedule's status


async def get_trip_resources(request: Request) -> TripResources:
    return request.app.state.trip_resources


TripResourcesDep = Annotated[TripResources, Depends(get_trip_resources)]


async def get_repo(request: Request) -> TripRepository:
    return request.app.state.trip_resources.trips


async def get_relay(request: Request) -> OutboxRelay:
    return request.app.state.trip_resources.outbox


def location_client(request: Request) -> LocationClient:
    shared = request.app.state.resources
    settings = request.app.state.trip_resources.settings
    return LocationClient(
        shared.http, settings.location_url, shared.cache, settings.cities_cache_version
    )


@dataclass(frozen=True)
class TripWrite:
    """What a route that creates or changes a trip needs, as one dependency instead of three:
    the repository, the relay its commit wakes, location-service to check the destination."""

    trips: TripRepository
    outbox: OutboxRelay
    locations: LocationClient


async def get_trip_write(request: Request) -> TripWrite:
    trip = request.app.state.trip_resources
    return TripWrite(trip.trips, trip.outbox, location_client(request))


RepoDep = Annotated[TripRepository, Depends(get_repo)]
RelayDep = Annotated[OutboxRelay, Depends(get_relay)]
TripWriteDep = Annotated[TripWrite, Depends(get_trip_write)]

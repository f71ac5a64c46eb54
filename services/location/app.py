"""location-service: places of interest (PostGIS), nearby and text search, cities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.kit.app import create_service_app
from services.kit.resources import Resources
from services.location.repository import PlaceRepository
from services.location.resources import LocationResources
from services.location.routes import router
from services.location.settings import LocationSettings


def create_app(settings: LocationSettings | None = None) -> FastAPI:
    settings = settings or LocationSettings()

    @asynccontextmanager
    async def wire(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        app.state.location_resources = LocationResources(
            settings=settings,
            places=PlaceRepository(resources.pool),
            nearby_searches=search_requests.labels("nearby"),
            text_searches=search_requests.labels("text"),
            cache=resources.cache,
        )
        yield

    app = create_service_app(
        settings,
        title="TripGen location-service",
        description="Places of interest with PostGIS locations: by id, nearby, text search "
        "(Korean and English), and city listings for the other services.",
        routers=[router],
        extensions=[wire],
    )
    # SPEC.md › Autoscaling: location's HPA custom metric is `search_requests` (> 200).
    # Registered here, once per app in its own registry, rather than on every lifespan start;
    # `wire` reads it when the app starts.
    search_requests = app.state.metrics.counter(
        "search_requests", "Place searches served, by kind (nearby, text)", ("kind",)
    )
    return app

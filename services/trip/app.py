"""trip-service: trips, members, schedule requests (via the outbox) and the schedule read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.kit.app import create_service_app
from services.kit.outbox import OutboxRelay
from services.kit.resources import Resources
from services.trip.connections import ActiveConnectionsMiddleware, active_connections_gauge
from services.trip.events import ScheduleEventConsumer
from services.trip.repository import TripRepository
from services.trip.resources import TripResources
from services.trip.routes import router
from services.trip.schedule_watch import ScheduleWatch
from services.trip.settings import TripSettings


def create_app(settings: TripSettings | None = None) -> FastAPI:
    settings = settings or TripSettings()

    @asynccontextmanager
    async def wire(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        queue = resources.queue
        assert queue is not None  # built with_queue=True
        repo = TripRepository(resources.pool)
        relay = OutboxRelay(
            repo.outbox,
            queue,
            resources.metrics,
            interval_s=settings.outbox_relay_interval_s,
            batch_size=settings.outbox_batch_size,
            retention_s=settings.outbox_retention_s,
            linger_s=settings.outbox_linger_s,
        )
        consumer = ScheduleEventConsumer(
            repo,
            queue,
            resources.metrics,
            concurrency=settings.events_consumer_concurrency,
            receive_max=settings.events_receive_max,
            receive_wait_s=settings.events_receive_wait_s,
        )
        watch = ScheduleWatch(settings.database_url)
        app.state.trip_resources = TripResources(
            settings=settings, trips=repo, outbox=relay, schedules=watch
        )
        async with relay.running(), consumer.running(), watch.running():
            yield

    app = create_service_app(
        settings,
        title="TripGen trip-service",
        description="Trips, their members (editors and viewers), requests for AI schedules and "
        "their status.",
        routers=[router],
        with_queue=True,
        extensions=[wire],
    )
    app.state.active_connections = active_connections_gauge(app.state.metrics)
    app.add_middleware(ActiveConnectionsMiddleware, gauge=app.state.active_connections)
    return app

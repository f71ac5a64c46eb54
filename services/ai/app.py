"""ai-service: itinerary ("schedule") generation from the `ai-schedule-generation` queue, results
in `ai_db`, a synchronous preview route, optional LLM enrichment behind a circuit breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ai.generation import ScheduleGenerator
from services.ai.llm import LLMEnricher
from services.ai.messages import ai_topics
from services.ai.places import PlacesClient
from services.ai.planner_pool import PlannerPool
from services.ai.queue_gauge import QueueLengthGauge
from services.ai.reference import ReferenceData
from services.ai.repository import ReferenceRepository, ScheduleRepository
from services.ai.routes import router
from services.ai.settings import AISettings
from services.ai.worker import ScheduleWorker
from services.kit.app import create_service_app
from services.kit.outbox import OutboxRelay
from services.kit.queue import QueueOptions, build_queue
from services.kit.resources import Resources


def create_app(
    settings: AISettings | None = None, *, planner_pool: PlannerPool | None = None
) -> FastAPI:
    """The ai-service app; its lifespan also runs the worker (`worker_concurrency` tasks).

    `planner_pool`: a running pool to share (tests start one for many apps); by default the
    app starts its own and stops it with the app.
    """
    settings = settings or AISettings()

    @asynccontextmanager
    async def wire(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        # The queue is built here rather than by the kit (`with_queue`): this service declares
        # the `trip-sync` subscription (messages.py) and a lock long enough for a generation.
        queue = build_queue(
            settings,
            resources.redis,
            options=QueueOptions(
                lock_duration_s=settings.queue_lock_duration_s,
                max_delivery_count=settings.max_delivery_count,
            ),
            topics=ai_topics(),
        )
        resources.queue = queue
        planner = planner_pool or PlannerPool(settings.planner_processes)
        enricher = LLMEnricher.from_settings(settings, resources.metrics)
        schedules = ScheduleRepository(resources.pool)
        generator = ScheduleGenerator(
            places=PlacesClient(resources, settings.location_url, settings.places_cache_ttl_s),
            reference=ReferenceData(
                ReferenceRepository(resources.pool), settings.reference_cache_ttl_s
            ),
            planner=planner,
            enricher=enricher,
            cache=resources.cache,
            metrics=resources.metrics,
        )
        relay = OutboxRelay(
            schedules.outbox,
            queue,
            resources.metrics,
            interval_s=settings.outbox_relay_interval_s,
            batch_size=settings.outbox_batch_size,
            retention_s=settings.outbox_retention_s,
        )
        worker = ScheduleWorker(
            queue=queue,
            repo=schedules,
            generator=generator,
            relay=relay,
            metrics=resources.metrics,
            settings=settings,
        )
        gauge = QueueLengthGauge(queue, resources.metrics, settings.queue_metrics_interval_s)
        if enricher is not None:
            app.state.health_checks["llm"] = enricher.health
        resources.extra.update(
            schedules=schedules,
            generator=generator,
            worker=worker,
            outbox=relay,
            planner=planner,
            llm=enricher,
            queue_gauge=gauge,
        )
        try:
            if planner_pool is None:
                await planner.start()
            async with (
                relay.running(),
                gauge.running(),
                worker.running(settings.worker_concurrency),
            ):
                yield
        finally:
            if planner_pool is None:
                planner.close()
            if enricher is not None:
                await enricher.close()
            await queue.close()

    return create_service_app(
        settings,
        title="TripGen ai-service",
        description="AI itinerary (schedule) generation: a worker on the ai-schedule-generation "
        "queue, schedule status and itineraries, and synchronous previews of small trips.",
        routers=[router],
        extensions=[wire],
    )

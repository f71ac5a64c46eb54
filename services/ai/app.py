"""ai-service: itinerary ("schedule") generation from the `ai-schedule-generation` queue, results
in `ai_db`, a synchronous preview route, optional LLM enrichment behind a circuit breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ai.generation import ScheduleGenerator
from services.ai.llm import LLMEnricher
from services.ai.places import PlacesClient
from services.ai.planner_pool import PlannerPool
from services.ai.queue_gauge import QueueLengthGauge
from services.ai.reference import ReferenceData
from services.ai.repository import ReferenceRepository, ScheduleRepository
from services.ai.resources import AIResources
from services.ai.routes import router
from services.ai.schedule_worker import ScheduleWorker
from services.ai.settings import AISettings
from services.kit.app import Extension, create_service_app
from services.kit.outbox import OutboxRelay
from services.kit.queue import QueueOptions, QueuePort, build_queue
from services.kit.resources import Resources


def create_app(
    settings: AISettings | None = None, *, planner_pool: PlannerPool | None = None
) -> FastAPI:
    """The ai-service app; its lifespan also runs the worker (`worker_concurrency` tasks).

    `planner_pool`: a running pool to share (tests start one for many apps); by default the
    app starts its own and stops it with the app.
    """
    settings = settings or AISettings()
    return create_service_app(
        settings,
        title="TripGen ai-service",
        description="AI itinerary (schedule) generation: a worker on the ai-schedule-generation "
        "queue, schedule status and itineraries, and synchronous previews of small trips.",
        routers=[router],
        extensions=[_ai_lifespan(settings, planner_pool)],
    )


def _ai_lifespan(settings: AISettings, shared_planner: PlannerPool | None) -> Extension:
    """The service's own start-up: build its parts, run relay, gauge and worker, then stop."""

    @asynccontextmanager
    async def wire(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        queue = resources.queue = _generation_queue(settings, resources)
        planner = shared_planner or PlannerPool(settings.planner_processes)
        ai = _build_ai_resources(settings, resources, queue, planner)
        if ai.llm is not None:
            app.state.health_checks["llm"] = ai.llm.health
        app.state.ai_resources = ai
        try:
            if shared_planner is None:
                await planner.start()
            async with (
                ai.outbox.running(),
                ai.queue_gauge.running(),
                ai.worker.running(settings.worker_concurrency),
            ):
                yield
        finally:
            if shared_planner is None:
                planner.close()
            if ai.llm is not None:
                await ai.llm.close()
            await queue.close()

    return wire


def _generation_queue(settings: AISettings, resources: Resources) -> QueuePort:
    # Built here rather than by the kit (`with_queue`): a generation needs a longer lock and this
    # service's delivery limit.
    return build_queue(
        settings,
        resources.redis,
        options=QueueOptions(
            lock_duration_s=settings.queue_lock_duration_s,
            max_delivery_count=settings.max_delivery_count,
        ),
    )


def _build_ai_resources(
    settings: AISettings, resources: Resources, queue: QueuePort, planner: PlannerPool
) -> AIResources:
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
        linger_s=settings.outbox_linger_s,
    )
    worker = ScheduleWorker(
        queue=queue,
        repo=schedules,
        generator=generator,
        relay=relay,
        metrics=resources.metrics,
        settings=settings,
    )
    return AIResources(
        settings=settings,
        schedules=schedules,
        generator=generator,
        worker=worker,
        outbox=relay,
        planner=planner,
        llm=enricher,
        queue_gauge=QueueLengthGauge(queue, resources.metrics, settings.queue_metrics_interval_s),
    )

"""One schedule generation, shared by the queue worker and the preview route.

cache (`ai:schedule:{trip_id}:{hash}`, 2 h) → the city's places (location-service) → ratings
blended with reviews → wishes as prize weights (LLM, else keywords) → the planner (in a process)
→ a narrative per day (LLM) → the itinerary document, cached.

A result that lacks an enrichment because the LLM failed is not cached: the next identical
request may get the full one once the endpoint recovers (planning again costs ~1 s).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import Histogram

from services.ai.errors import GenerationError, GenerationRefused, PreviewTooLarge
from services.ai.llm import Enrichment, LLMEnricher
from services.ai.places import PlacesClient
from services.ai.planner import Place, WishWeights
from services.ai.planner_pool import PlannerPool
from services.ai.planning_input import blend_ratings, request_hash, trip_request
from services.ai.reference import ReferenceData
from services.ai.schemas import ScheduleRequest
from services.ai.wishes import keyword_wish_weights
from services.kit.cache import AI_SCHEDULE, TieredCache
from services.kit.metrics import LATENCY_BUCKETS, ServiceMetrics

# Cache scope of preview results (the key pattern wants a trip id; previews have none).
PREVIEW_SCOPE = "preview"


@dataclass(frozen=True)
class Generated:
    itinerary: dict[str, Any]
    cached: bool


@dataclass(frozen=True)
class PlanningOptions:
    time_limit_s: float
    review_prior_weight: float
    max_candidates: int | None = None  # set by the preview route


class ScheduleGenerator:
    def __init__(
        self,
        *,
        places: PlacesClient,
        reference: ReferenceData,
        planner: PlannerPool,
        enricher: LLMEnricher | None,
        cache: TieredCache,
        metrics: ServiceMetrics,
    ) -> None:
        self.places = places
        self.reference = reference
        self.planner = planner
        self.enricher = enricher
        self.cache = cache
        self.planner_runs = metrics.counter(
            "ai_planner_runs_total", "Planner runs by outcome", ("outcome",)
        )
        # ServiceMetrics has no histogram helper; the registry is the app's own.
        self.seconds = Histogram(
            "ai_generation_seconds",
            "Schedule generation time, by where the itinerary came from (cache or planner)",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=metrics.registry,
        )

    async def generate(
        self, request: ScheduleRequest, *, cache_scope: str, options: PlanningOptions
    ) -> Generated:
        started = time.perf_counter()
        digest = request_hash(request)
        key = AI_SCHEDULE.key(trip_id=cache_scope, hash=digest)
        cached = await self.cache.get(AI_SCHEDULE, key)
        if cached is not None:
            self.seconds.labels("cache").observe(time.perf_counter() - started)
            return Generated(orjson.loads(cached), cached=True)

        places = await self.places.city_places(request.city)
        if not places:
            raise GenerationRefused(
                f"no places are known for the city {request.city!r}", code="unknown_city"
            )
        if options.max_candidates is not None and len(places) > options.max_candidates:
            raise PreviewTooLarge(
                f"{request.city} has {len(places)} candidate places; previews plan at most "
                f"{options.max_candidates}: request the schedule through the trip instead "
                "(POST /api/trips/{trip_id}/schedules)"
            )
        reference = await self.reference.snapshot()
        candidates = blend_ratings(places, reference.reviews, options.review_prior_weight)

        wishes, wishes_source, wishes_outcome = await self._wish_weights(request, candidates)
        trip = trip_request(
            request, candidates, reference.seasonal_weights(request.start_date.month), wishes
        )
        try:
            itinerary = await self.planner.plan(candidates, trip, options.time_limit_s)
        except GenerationError as exc:
            self.planner_runs.labels(
                "refused" if isinstance(exc, GenerationRefused) else "failed"
            ).inc()
            raise
        self.planner_runs.labels("ok").inc()

        narratives = Enrichment[list[str | None]](None, "skipped")
        if self.enricher is not None and wishes_outcome not in ("timeout", "error"):
            # (After a failed call in this generation the endpoint is evidently unwell: a
            # second wait would double the delay the LLM can add to one itinerary.)
            narratives = await self.enricher.day_narratives(request.city, itinerary)
        document = _document(request, digest, itinerary, wishes, wishes_source, narratives)

        degraded = self.enricher is not None and (
            wishes_outcome not in ("ok", "none") or narratives.outcome != "ok"
        )
        if not degraded:
            await self.cache.set(AI_SCHEDULE, key, orjson.dumps(document))
        self.seconds.labels("planner").observe(time.perf_counter() - started)
        return Generated(document, cached=False)

    async def _wish_weights(
        self, request: ScheduleRequest, places: list[Place]
    ) -> tuple[WishWeights, str, str]:
        """(weights, where they came from, the LLM call's outcome or "none")."""
        if not request.wishes:
            return WishWeights(), "none", "none"
        outcome = "none"
        if self.enricher is not None:
            answer = await self.enricher.wish_weights(request.wishes, places)
            if answer.value is not None:
                return answer.value, "llm", answer.outcome
            outcome = answer.outcome
        return keyword_wish_weights(request.wishes, places), "keywords", outcome


def _document(
    request: ScheduleRequest,
    digest: str,
    itinerary: dict[str, Any],
    wishes: WishWeights,
    wishes_source: str,
    narratives: Enrichment[list[str | None]],
) -> dict[str, Any]:
    """The stored and published itinerary: the planner's output plus what shaped it."""
    texts = narratives.value or []
    days = [
        {**day, "narrative": texts[i] if i < len(texts) else None}
        for i, day in enumerate(itinerary.get("days", []))
    ]
    return {
        **itinerary,
        "days": days,
        "city": request.city,
        "request_hash": digest,
        "generated_at": datetime.now(UTC).isoformat(),
        "wish_weights": wishes.model_dump(),
        "enrichment": {
            "wishes": wishes_source,
            "narrative": "llm" if narratives.value is not None else "none",
        },
    }

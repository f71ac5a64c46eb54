"""From a schedule request to the planner's input: the request hash, the candidates (ratings
blended with the review table) and the `TripRequest` (lodging, budget, seasonal weights)."""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from services.ai.errors import GenerationRefused
from services.ai.planner import GeoPoint, Place, TripRequest, WishWeights
from services.ai.schemas import ScheduleRequest

# Bump when the planner's input or output changes meaning: cached results of the old version
# stop matching (the key `ai:schedule:{trip_id}:{hash}` includes the hash).
INPUT_VERSION = 1
# The trip's budget as the highest comfortable price level (0–4); pricier places lose prize.
BUDGET_LEVEL: dict[str, int | None] = {"low": 1, "medium": 2, "high": None}


def normalised(request: ScheduleRequest) -> dict[str, Any]:
    """The request in one canonical form: what two requests share when they plan the same."""
    body = request.model_dump(mode="json")
    body["city"] = request.city.strip().casefold()
    body["preferred_categories"] = sorted(set(body["preferred_categories"]))
    body["must_visit"] = sorted(set(body["must_visit"]))
    if request.lodging is not None:  # ~1 m: the same hotel typed twice is the same lodging
        body["lodging"] = {
            "lat": round(request.lodging.lat, 5),
            "lng": round(request.lodging.lng, 5),
        }
    wishes = " ".join((request.wishes or "").split()).casefold()
    body["wishes"] = wishes or None
    return body


def request_hash(request: ScheduleRequest) -> str:
    canonical = orjson.dumps(
        {"version": INPUT_VERSION, **normalised(request)}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()[:32]


def blend_ratings(
    places: Sequence[Place], reviews: Mapping[str, tuple[float, int]], prior_weight: float
) -> list[Place]:
    """Each place's rating moved towards its review average: the listed rating counts as
    `prior_weight` reviews, so one or two reviews nudge it and many would dominate."""
    blended: list[Place] = []
    for place in places:
        stats = reviews.get(place.id)
        if stats is None or prior_weight + stats[1] <= 0:
            blended.append(place)
            continue
        average, count = stats
        rating = (place.rating * prior_weight + average * count) / (prior_weight + count)
        blended.append(place.model_copy(update={"rating": round(min(5.0, max(1.0, rating)), 2)}))
    return blended


def city_centre(places: Sequence[Place]) -> GeoPoint:
    """Where a trip without a lodging starts its days: the median of the city's places (robust
    to the odd place far out of town)."""
    return GeoPoint(
        lat=statistics.median(p.lat for p in places), lng=statistics.median(p.lng for p in places)
    )


def trip_request(
    request: ScheduleRequest,
    places: Sequence[Place],
    seasonal_weights: dict[str, float] | None,
    wishes: WishWeights,
) -> TripRequest:
    lodging = (
        GeoPoint(lat=request.lodging.lat, lng=request.lodging.lng)
        if request.lodging is not None
        else city_centre(places)
    )
    try:
        return TripRequest(
            start_date=request.start_date,
            days=request.days,
            lodging=lodging,
            pace=request.pace.value,
            preferred_categories=tuple(c.value for c in request.preferred_categories),
            must_visit=tuple(request.must_visit),
            mode=request.mode.value,
            budget_level=BUDGET_LEVEL[request.budget.value],
            seasonal_weights=seasonal_weights,
            wishes=wishes,
        )
    except ValidationError as exc:  # the request's own values, e.g. a 31-day trip
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors()
        )
        raise GenerationRefused(f"the request cannot be planned: {problems}") from exc

"""ai-service routes under /api/ai: a schedule's status and itinerary, and synchronous previews.

A schedule is visible to whoever can see its trip in trip-service right now (its owner and
current members, services.ai.trip_access); anyone else, a removed member and everyone once the
trip is deleted get 404, so a stranger cannot learn that it exists. Service tokens get 403.
"""

from __future__ import annotations

from uuid import UUID

import orjson
from fastapi import APIRouter, Request, Response

from services.ai.errors import GenerationRefused, GenerationUnavailable
from services.ai.generation import PREVIEW_SCOPE, PlanningOptions
from services.ai.resources import GeneratorDep, RepoDep, SettingsDep
from services.ai.schemas import PreviewPublic, PreviewRequest, SchedulePublic
from services.ai.trip_access import can_see_trip
from services.kit.access import CurrentUser
from services.kit.errors import FieldError, NotFound, ServiceUnavailable, Unprocessable
from services.kit.resources import ResourcesDep

# Every route takes `CurrentUser`, which rate-limits the request before it checks the caller.
router = APIRouter(prefix="/api/ai", tags=["ai"])
JSON = "application/json"
RETRY_AFTER_S = 5
# The request field a planning refusal is about, by its code (the rest: the request as a whole).
_FIELD_OF = {
    "unknown_city": "city",
    "too_large_for_preview": "city",
    "unknown_place": "must_visit",
    "must_visit_closed": "must_visit",
    "must_visit_unreachable": "must_visit",
    "too_many_must_visits": "must_visit",
}


@router.get(
    "/schedules/{schedule_id}",
    response_model=SchedulePublic,
    summary="A schedule's status, and its itinerary once it is done (who can see its trip)",
)
async def get_schedule(
    schedule_id: UUID, _: CurrentUser, request: Request, repo: RepoDep, shared: ResourcesDep
) -> Response:
    schedule = await repo.get(str(schedule_id))
    if schedule is None or not await can_see_trip(
        shared.http,
        shared.settings.trip_url,
        request.headers["authorization"],
        schedule.trip_id,
    ):
        raise NotFound(f"no schedule {schedule_id}")
    # Itineraries are tens of KB: orjson, not FastAPI's per-field encoder.
    return Response(orjson.dumps(schedule.public()), media_type=JSON)


@router.post(
    "/schedules/preview",
    response_model=PreviewPublic,
    summary="Plan a small trip now (at most preview_max_days days and preview_max_candidates "
    "places); larger trips go through POST /api/trips/{trip_id}/schedules",
    responses={
        422: {"description": "Invalid, too large for a preview, or impossible to plan"},
        503: {"description": "A dependency (location-service, database) is unavailable"},
    },
)
async def preview(
    body: PreviewRequest,
    _: CurrentUser,
    generator: GeneratorDep,
    settings: SettingsDep,
) -> Response:
    if body.days > settings.preview_max_days:
        raise _refused(
            "end_date",
            f"a preview plans at most {settings.preview_max_days} days, this trip has "
            f"{body.days}: request the schedule through the trip instead "
            "(POST /api/trips/{trip_id}/schedules)",
        )
    options = PlanningOptions(
        time_limit_s=settings.planner_time_limit_s,
        review_prior_weight=settings.review_prior_weight,
        max_candidates=settings.preview_max_candidates,
    )
    try:
        generated = await generator.generate(body, cache_scope=PREVIEW_SCOPE, options=options)
    except GenerationRefused as exc:
        raise _refused(_FIELD_OF.get(exc.code, "request"), exc.reason) from exc
    except GenerationUnavailable as exc:
        raise ServiceUnavailable(
            f"{exc.reason}; retry shortly", headers={"Retry-After": str(RETRY_AFTER_S)}
        ) from exc
    result = {"status": "done", "cached": generated.cached, "itinerary": generated.itinerary}
    return Response(orjson.dumps(result), media_type=JSON)


def _refused(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[FieldError(field=field, message=message)])

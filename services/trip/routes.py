"""trip-service routes under /api/trips: trips, members, schedule requests and their status.

Visibility: a trip exists for its owner and its members only; anyone else gets 404, so a
stranger cannot even learn that it exists. Editors change the trip and request schedules;
only the owner deletes it and manages members; viewers read.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status
from psycopg import OperationalError

from services.kit.access import limited
from services.kit.auth import current_user
from services.kit.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from services.kit.trip_events import EventType, trip_event
from services.trip.connections import not_serving
from services.trip.locations import LocationClient
from services.trip.messages import schedule_request, schedule_requested
from services.trip.repository import ScheduleRecord, TripAccess, TripRepository
from services.trip.resources import RelayDep, RepoDep, TripWriteDep
from services.trip.schemas import (
    MemberCreate,
    MemberPublic,
    ScheduleAccepted,
    SchedulePublic,
    SchedulesPage,
    ScheduleStatus,
    ScheduleSummary,
    TripCreate,
    TripPublic,
    TripRole,
    TripsPage,
    TripUpdate,
    date_span_problem,
)
from services.trip.users import require_user

log = logging.getLogger(__name__)
# Every route takes `Caller`, which rate-limits the request before it checks the caller.
router = APIRouter(prefix="/api/trips", tags=["trips"])
_EDITORS = (TripRole.OWNER, TripRole.EDITOR)


async def caller_id(request: Request) -> str:
    """The caller's user id; a service token (`sub` = `service:<name>`) owns no trips."""
    principal = await current_user(request)  # called, not depended on: one dependency, not two
    return str(UUID(principal.user_id))  # the canonical form the tables hold


Caller = Annotated[str, Depends(limited(caller_id))]
Page = Annotated[int, Query(ge=1, le=100_000)]
Size = Annotated[int, Query(ge=1, le=100)]
# A long poll stays under uvicorn's 10 s graceful-shutdown window, so a stopping replica answers
# its waiters instead of cutting them off, and far under the gateway's 30 s request timeout.
MAX_SCHEDULE_WAIT_S = 8.0
WaitSeconds = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_SCHEDULE_WAIT_S,
        description="Hold the answer up to this many seconds while the schedule is pending or "
        "running; it comes as soon as the schedule is done or failed (0 = answer at once)",
    ),
]
_UNFINISHED = (ScheduleStatus.PENDING, ScheduleStatus.RUNNING)


async def _visible(repo: TripRepository, trip_id: UUID, user_id: str) -> TripAccess:
    access = await repo.visible_trip(str(trip_id), user_id)
    if access is None:
        raise NotFound(f"no trip {trip_id}")
    return access


def _require(access: TripAccess, allowed: tuple[TripRole, ...], action: str) -> None:
    if access.role not in allowed:
        raise Forbidden(f"a trip {access.role.value} cannot {action}")


def _public(access: TripAccess) -> TripPublic:
    return TripPublic.model_validate(access.trip.public(access.role))


async def _check_destination(
    locations: LocationClient,
    authorization: str | None,
    city: str | None,
    must_visit: list[str] | None,
) -> tuple[str | None, list[FieldError]]:
    """Ask location-service about the city and places; (canonical city, field errors).

    One after the other, not gathered: both answers are nearly always in the in-process cache
    (reference data, kept 24 h), where two tasks cost more than the two lookups; only a cold
    cache pays for the two calls in turn."""
    canonical = await locations.canonical_city(city, authorization) if city is not None else None
    unknown = await locations.unknown_places(must_visit, authorization) if must_visit else []
    errors: list[FieldError] = []
    if city is not None and canonical is None:
        errors.append(FieldError(field="destination_city", message=f"unknown city {city!r}"))
    if unknown:
        errors.append(
            FieldError(field="must_visit", message=f"unknown places: {', '.join(unknown)}")
        )
    return canonical, errors


def _invalid(errors: list[FieldError]) -> Unprocessable:
    return Unprocessable("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


# -- trips ------------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a trip (I am its owner)")
async def create_trip(
    body: TripCreate,
    caller: Caller,
    request: Request,
    response: Response,
    write: TripWriteDep,
) -> TripPublic:
    repo = write.trips
    city, errors = await _check_destination(
        write.locations,
        request.app.state.service_auth.authorization(),
        body.destination_city,
        body.must_visit,
    )
    if errors:
        raise _invalid(errors)
    fields: dict[str, Any] = {**body.model_dump(mode="json"), "destination_city": city}
    trip_id = str(uuid.uuid4())
    event = trip_event(EventType.TRIP_CREATED, trip_id, {"owner_id": caller, **fields})
    try:
        trip = await repo.create_trip(trip_id, caller, fields, [event])
    except OperationalError:
        # The connection broke with the insert sent: it may have committed (a failover after the
        # commit, before its answer). A 503 invites a retry, which must not store the trip twice:
        # ask, under the id this request chose, whether it is there; 503 only when it is not.
        settings = request.app.state.trip_resources.settings
        stored = await repo.stored_trip(trip_id, settings.create_outcome_wait_s)
        if stored is None:
            raise
        log.warning("trip %s was stored although its insert failed to answer", trip_id)
        trip = stored
    write.outbox.wake()
    response.headers["Location"] = f"{router.prefix}/{trip.id}"
    return _public(TripAccess(trip, TripRole.OWNER))


@router.get("", summary="My trips and trips shared with me, newest first")
async def list_trips(caller: Caller, repo: RepoDep, page: Page = 1, size: Size = 20) -> TripsPage:
    trips, total = await repo.visible_trips(caller, page, size)
    return TripsPage(items=[_public(a) for a in trips], total=total, page=page, size=size)


@router.get("/{trip_id}", summary="One trip (owner and members)")
async def get_trip(trip_id: UUID, caller: Caller, repo: RepoDep) -> TripPublic:
    return _public(await _visible(repo, trip_id, caller))


@router.patch("/{trip_id}", summary="Change a trip (owner and editors)")
async def update_trip(
    trip_id: UUID,
    body: TripUpdate,
    caller: Caller,
    request: Request,
    write: TripWriteDep,
) -> TripPublic:
    repo = write.trips
    access = await _visible(repo, trip_id, caller)
    _require(access, _EDITORS, "edit it")
    trip = access.trip
    if body.version is not None and body.version != trip.version:
        raise Conflict(f"the trip is at version {trip.version}, not {body.version}; reload it")
    changes = body.changes()
    if not changes:
        return _public(access)
    errors: list[FieldError] = []
    start = date.fromisoformat(changes["start_date"]) if "start_date" in changes else None
    end = date.fromisoformat(changes["end_date"]) if "end_date" in changes else None
    if problem := date_span_problem(start or trip.start_date, end or trip.end_date):
        field = "end_date" if end is not None else "start_date"
        errors.append(FieldError(field=field, message=problem))
    city, location_errors = await _check_destination(
        write.locations,
        request.app.state.service_auth.authorization(),
        changes.get("destination_city"),
        changes.get("must_visit"),
    )
    errors += location_errors
    if errors:
        raise _invalid(errors)
    if city is not None:
        changes["destination_city"] = city
    event = trip_event(
        EventType.TRIP_UPDATED,
        trip.id,
        {"updated_by": caller, "version": trip.version + 1, "changes": changes},
    )
    updated = await repo.update_trip(trip.id, trip.version, changes, [event])
    if updated is None:
        await _visible(repo, trip_id, caller)  # 404 when it was deleted meanwhile
        raise Conflict("the trip changed while this update was checked; reload it and retry")
    write.outbox.wake()
    return _public(TripAccess(updated, access.role))


@router.delete(
    "/{trip_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a trip (owner)"
)
async def delete_trip(trip_id: UUID, caller: Caller, repo: RepoDep, relay: RelayDep) -> Response:
    access = await _visible(repo, trip_id, caller)
    _require(access, (TripRole.OWNER,), "delete it")
    event = trip_event(
        EventType.TRIP_DELETED,
        access.trip.id,
        {"deleted_by": caller, "owner_id": access.trip.owner_id, "title": access.trip.title},
    )
    if not await repo.delete_trip(access.trip.id, [event]):
        raise NotFound(f"no trip {trip_id}")
    relay.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- members ----------------------------------------------------------------------------------


@router.get("/{trip_id}/members", summary="The owner and the members of a trip")
async def list_members(trip_id: UUID, caller: Caller, repo: RepoDep) -> list[MemberPublic]:
    access = await _visible(repo, trip_id, caller)
    return [MemberPublic.model_validate(m.public()) for m in await repo.members(access.trip.id)]


@router.post(
    "/{trip_id}/members",
    status_code=status.HTTP_201_CREATED,
    summary="Invite a user as editor or viewer, or change their role (owner)",
    responses={200: {"description": "The user was a member already; their role was changed"}},
)
async def put_member(
    trip_id: UUID,
    body: MemberCreate,
    caller: Caller,
    request: Request,
    response: Response,
    repo: RepoDep,
    relay: RelayDep,
) -> MemberPublic:
    access = await _visible(repo, trip_id, caller)
    _require(access, (TripRole.OWNER,), "manage members")
    user_id = str(body.user_id)
    if user_id == access.trip.owner_id:
        raise Unprocessable(
            "user_id: the owner is on the trip already",
            errors=[FieldError(field="user_id", message="the owner is on the trip already")],
        )
    shared = request.app.state.resources
    await require_user(
        shared.http,
        shared.settings.user_url,
        request.app.state.service_auth.authorization(),
        user_id,
    )
    event = trip_event(
        EventType.TRIP_UPDATED,
        access.trip.id,
        {"updated_by": caller, "member_set": {"user_id": user_id, "role": body.role.value}},
    )
    result = await repo.put_member(access.trip.id, user_id, body.role, [event])
    if result is None:
        raise NotFound(f"no trip {trip_id}")
    member, added = result
    relay.wake()
    if not added:
        response.status_code = status.HTTP_200_OK
    return MemberPublic.model_validate(member.public())


@router.delete(
    "/{trip_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (owner)",
)
async def remove_member(
    trip_id: UUID, user_id: UUID, caller: Caller, repo: RepoDep, relay: RelayDep
) -> Response:
    access = await _visible(repo, trip_id, caller)
    _require(access, (TripRole.OWNER,), "manage members")
    if str(user_id) == access.trip.owner_id:
        raise Conflict("the owner cannot be removed from their trip; delete the trip instead")
    event = trip_event(
        EventType.TRIP_UPDATED,
        access.trip.id,
        {"updated_by": caller, "member_removed": {"user_id": str(user_id)}},
    )
    if not await repo.remove_member(access.trip.id, str(user_id), [event]):
        raise NotFound(f"user {user_id} is not a member of this trip")
    relay.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- schedules --------------------------------------------------------------------------------


@router.post(
    "/{trip_id}/schedules",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask the AI service for an itinerary of this trip (owner and editors)",
)
async def request_schedule(
    trip_id: UUID, caller: Caller, response: Response, repo: RepoDep, relay: RelayDep
) -> ScheduleAccepted:
    access = await _visible(repo, trip_id, caller)
    _require(access, _EDITORS, "request schedules")
    schedule = await repo.create_schedule(
        str(uuid.uuid4()),
        access.trip.id,
        caller,
        lambda trip, schedule: [
            schedule_request(trip, schedule),
            schedule_requested(trip, schedule),
        ],
    )
    if schedule is None:
        raise NotFound(f"no trip {trip_id}")
    relay.wake()
    response.headers["Location"] = f"{router.prefix}/{trip_id}/schedules/{schedule.id}"
    return ScheduleAccepted(schedule_id=UUID(schedule.id))


@router.get("/{trip_id}/schedules", summary="The trip's schedules, newest first")
async def list_schedules(
    trip_id: UUID, caller: Caller, repo: RepoDep, page: Page = 1, size: Size = 20
) -> SchedulesPage:
    access = await _visible(repo, trip_id, caller)
    schedules, total = await repo.schedules(access.trip.id, page, size)
    items = [ScheduleSummary.model_validate(s.public(with_itinerary=False)) for s in schedules]
    return SchedulesPage(items=items, total=total, page=page, size=size)


async def _schedule(
    repo: TripRepository, trip_id: UUID, schedule_id: UUID, user_id: str
) -> ScheduleRecord:
    visible, schedule = await repo.visible_schedule(str(trip_id), str(schedule_id), user_id)
    if not visible:
        raise NotFound(f"no trip {trip_id}")
    if schedule is None:
        raise NotFound(f"no schedule {schedule_id} for this trip")
    return schedule


@router.get(
    "/{trip_id}/schedules/{schedule_id}",
    summary="A schedule's status, and its itinerary once it is done",
)
async def get_schedule(
    trip_id: UUID,
    schedule_id: UUID,
    caller: Caller,
    repo: RepoDep,
    request: Request,
    wait_s: WaitSeconds = 0.0,
) -> SchedulePublic:
    if wait_s <= 0:
        schedule = await _schedule(repo, trip_id, schedule_id, caller)
        return SchedulePublic.model_validate(schedule.public())
    watch = request.app.state.trip_resources.schedules
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    with watch.watch(str(schedule_id)) as changed:  # before the read: no change slips between
        schedule = await _schedule(repo, trip_id, schedule_id, caller)
        while schedule.status in _UNFINISHED and (left := deadline - loop.time()) > 0:
            with not_serving(request):
                await watch.changed(changed, left)
            schedule = await _schedule(repo, trip_id, schedule_id, caller)
    return SchedulePublic.model_validate(schedule.public())

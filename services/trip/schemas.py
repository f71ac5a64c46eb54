"""trip-service API models: Create/Update/Public per entity, and pages."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.kit.types import Text
from services.kit.vocabulary import Budget, Category, Pace, TravelMode

MAX_TRIP_DAYS = 30  # a trip lasts at most 30 days (start and end day included)
MAX_TRAVELLERS = 20
MAX_MUST_VISIT = 50

# Place ids travel in a comma-separated query (`?ids=a,b,c`): no commas, spaces or slashes.
PlaceId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
Title = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CityName = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Wishes = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=1000)]


class TripRole(StrEnum):
    """What the caller is on a trip; the owner is not a member row."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class MemberRole(StrEnum):
    EDITOR = "editor"
    VIEWER = "viewer"


class ScheduleStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def date_span_problem(start: date, end: date) -> str | None:
    """Why these dates cannot make a trip, or None (shared by create and update)."""
    if end < start:
        return "end_date must not be before start_date"
    if (end - start).days + 1 > MAX_TRIP_DAYS:
        return f"a trip lasts at most {MAX_TRIP_DAYS} days"
    return None


def _unique(values: list[Any] | None) -> list[Any] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("entries must not repeat")
    return values


def _none_if_blank(value: str | None) -> str | None:
    return value or None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Lodging(Strict):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class TripCreate(Strict):
    title: Title
    destination_city: CityName
    start_date: date
    end_date: date
    travellers: int = Field(1, ge=1, le=MAX_TRAVELLERS)
    budget: Budget = Budget.MEDIUM
    pace: Pace = Pace.NORMAL
    preferred_categories: list[Category] = Field(default_factory=list, max_length=len(Category))
    must_visit: list[PlaceId] = Field(default_factory=list, max_length=MAX_MUST_VISIT)
    lodging: Lodging | None = None
    mode: TravelMode = TravelMode.TRANSIT
    wishes: Wishes | None = None

    _unique_lists = field_validator("preferred_categories", "must_visit")(_unique)
    _blank_wishes = field_validator("wishes")(_none_if_blank)

    @field_validator("end_date")
    @classmethod
    def _span(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")  # absent when start_date itself was invalid
        if start is not None and (problem := date_span_problem(start, end)):
            raise ValueError(problem)
        return end


# Fields a PATCH may not set to null (lodging and wishes may: null clears them).
_REQUIRED_ON_PATCH = (
    "title",
    "destination_city",
    "start_date",
    "end_date",
    "travellers",
    "budget",
    "pace",
    "preferred_categories",
    "must_visit",
    "mode",
)


class TripUpdate(Strict):
    """PATCH: only the fields sent change. The date span is checked against the stored trip."""

    title: Title | None = None
    destination_city: CityName | None = None
    start_date: date | None = None
    end_date: date | None = None
    travellers: int | None = Field(None, ge=1, le=MAX_TRAVELLERS)
    budget: Budget | None = None
    pace: Pace | None = None
    preferred_categories: list[Category] | None = Field(None, max_length=len(Category))
    must_visit: list[PlaceId] | None = Field(None, max_length=MAX_MUST_VISIT)
    lodging: Lodging | None = None
    mode: TravelMode | None = None
    wishes: Wishes | None = None
    # Optimistic concurrency: when sent, the update applies only to this version of the trip.
    version: int | None = Field(None, ge=1)

    _unique_lists = field_validator("preferred_categories", "must_visit")(_unique)
    _blank_wishes = field_validator("wishes")(_none_if_blank)

    @field_validator(*_REQUIRED_ON_PATCH, "version", mode="after")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for fields the client sent (defaults are not validated): null is refused.
        if value is None:
            raise ValueError("must not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields sent (JSON-shaped, as the API and the events show them)."""
        return self.model_dump(include=self.model_fields_set - {"version"}, mode="json")


class TripPublic(BaseModel):
    id: UUID
    owner_id: UUID
    title: str
    destination_city: str
    start_date: date
    end_date: date
    days: int
    travellers: int
    budget: Budget
    pace: Pace
    preferred_categories: list[Category]
    must_visit: list[str]
    lodging: Lodging | None
    mode: TravelMode
    wishes: str | None
    version: int
    my_role: TripRole
    created_at: datetime
    updated_at: datetime


class TripsPage(BaseModel):
    items: list[TripPublic]
    total: int
    page: int
    size: int


class MemberCreate(Strict):
    user_id: UUID
    role: MemberRole


class MemberPublic(BaseModel):
    user_id: UUID
    role: TripRole
    added_at: datetime


class ScheduleAccepted(BaseModel):
    schedule_id: UUID
    status: Literal[ScheduleStatus.PENDING] = ScheduleStatus.PENDING


class ScheduleSummary(BaseModel):
    """A schedule without its itinerary (lists stay small)."""

    schedule_id: UUID
    trip_id: UUID
    requested_by: UUID
    status: ScheduleStatus
    error: str | None
    requested_at: datetime
    updated_at: datetime


class SchedulePublic(ScheduleSummary):
    itinerary: dict[str, Any] | None


class SchedulesPage(BaseModel):
    items: list[ScheduleSummary]
    total: int
    page: int
    size: int

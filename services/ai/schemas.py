"""ai-service models: the schedule request (queue body and preview body) and API responses.

The request is docs/contracts.md › Messages, `ai-schedule-generation` `request`; trip-service
validates it when the trip is written, so a message that fails here is a producer's bug (a
poison message), while the same failure on the preview route is the caller's 422.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
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

MAX_TRIP_DAYS = 30  # the same bound trip-service puts on a trip
MAX_MUST_VISIT = 50

CityName = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
PlaceId = Annotated[Text, StringConstraints(min_length=1, max_length=128)]
Wishes = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=1000)]


class ScheduleStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Lodging(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ScheduleRequest(BaseModel):
    """What to plan. Unknown fields are ignored (a newer trip-service may send more)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    city: CityName
    start_date: date
    end_date: date
    travellers: int = Field(1, ge=1, le=20)
    budget: Budget = Budget.MEDIUM
    pace: Pace = Pace.NORMAL
    preferred_categories: list[Category] = Field(default_factory=list, max_length=len(Category))
    must_visit: list[PlaceId] = Field(default_factory=list, max_length=MAX_MUST_VISIT)
    lodging: Lodging | None = None
    mode: TravelMode = TravelMode.TRANSIT
    wishes: Wishes | None = None

    @field_validator("end_date")
    @classmethod
    def _span(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")  # absent when start_date itself was invalid
        if start is None:
            return end
        if end < start:
            raise ValueError("end_date must not be before start_date")
        if (end - start).days + 1 > MAX_TRIP_DAYS:
            raise ValueError(f"a trip lasts at most {MAX_TRIP_DAYS} days")
        return end

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1


class PreviewRequest(ScheduleRequest):
    """The preview route's body: the same request, but a typo in a field name is a 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationMessage(BaseModel):
    """The body of an `ai-schedule-generation` message (message_id = schedule_id)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schedule_id: UUID
    trip_id: UUID
    requested_by: UUID
    requested_at: datetime | None = None
    request: ScheduleRequest


class SchedulePublic(BaseModel):
    schedule_id: UUID
    trip_id: UUID
    requested_by: UUID
    status: ScheduleStatus
    itinerary: dict[str, Any] | None = Field(
        description="The planned itinerary once status is done (days → visits, legs, meals)"
    )
    error: str | None = Field(description="Why generation failed, when status is failed")
    error_code: str | None
    attempts: int
    requested_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PreviewPublic(BaseModel):
    status: ScheduleStatus = ScheduleStatus.DONE
    cached: bool = Field(description="Served from the AI result cache without planning")
    itinerary: dict[str, Any]

"""location-service API models: the place family (In/Public/Nearby), pages, cities."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.kit.types import Text
from services.kit.vocabulary import Category

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# "HH:MM" local time, 00:00..24:00 ("24:00" closes at midnight); the same rule as the planner's.
TimeOfDay = Annotated[str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
# [open, close]; a close earlier than the open runs past midnight.
Interval = tuple[TimeOfDay, TimeOfDay]
# A null or missing weekday is a closed day; null hours altogether mean open around the clock.
OpeningHours = dict[Weekday, list[Interval] | None]
# On the way in a close may also be written past 24:00 ("26:00", as many sources do).
LateTimeOfDay = Annotated[str, StringConstraints(pattern=r"^([0-3]\d|4[0-7]):[0-5]\d$")]
OpeningHoursIn = dict[Weekday, list[tuple[TimeOfDay, LateTimeOfDay]] | None]
PlaceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,127}$")]
Tag = Annotated[Text, StringConstraints(min_length=1, max_length=50)]


MAX_RADIUS_M = 50_000  # nearby searches reach at most 50 km


class NearbyQuery(BaseModel):
    """The nearby search's query parameters (`services.kit.query`: one validation, not five)."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    radius_m: int = Field(ge=1, le=MAX_RADIUS_M)
    category: Category | None = None
    limit: int = Field(20, ge=1, le=100)


class SearchQuery(BaseModel):
    """The text search's query parameters (`services.kit.query`)."""

    q: Text | None = Field(None, min_length=1, max_length=100)
    city: Text | None = Field(None, min_length=1, max_length=100)
    category: Category | None = None
    limit: int = Field(20, ge=1, le=100)


class PlaceIn(BaseModel):
    """One place as the data file and the loader carry it (coordinates as lat/lng)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: PlaceId
    name_ko: Text = Field(min_length=1, max_length=200)
    name_en: Text = Field(min_length=1, max_length=200)
    category: Category
    city: Text = Field(min_length=1, max_length=100)
    district: Text = Field(min_length=1, max_length=100)
    country: Text = Field(min_length=1, max_length=100)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    rating: float = Field(ge=1, le=5)
    visit_duration_min: int = Field(ge=5, le=720)
    opening_hours: OpeningHoursIn | None = None
    price_level: int = Field(ge=0, le=4)
    tags: list[Tag] = Field(default_factory=list, max_length=30)

    @field_validator("opening_hours")
    @classmethod
    def _one_form_past_midnight(cls, hours: OpeningHoursIn | None) -> OpeningHoursIn | None:
        """Stores "26:00" as "02:00": one form for every reader (the planner's rule is that a
        close earlier than the open runs past midnight)."""
        if hours is None:
            return None
        return {
            day: None if intervals is None else [_within_a_day(i) for i in intervals]
            for day, intervals in hours.items()
        }


def _within_a_day(interval: tuple[str, str]) -> tuple[str, str]:
    opens, closes = interval
    close_min = _minutes(closes)
    if close_min <= 24 * 60:
        return interval
    if close_min - 24 * 60 >= _minutes(opens):
        raise ValueError(f"{opens}-{closes} is open for 24 hours or more; use null hours")
    return opens, f"{close_min // 60 - 24:02d}:{close_min % 60:02d}"


def _minutes(time_of_day: str) -> int:
    hours, minutes = time_of_day.split(":")
    return int(hours) * 60 + int(minutes)


class PlacePublic(BaseModel):
    id: str
    name_ko: str
    name_en: str
    category: Category
    city: str
    district: str
    country: str
    lat: float
    lng: float
    rating: float
    visit_duration_min: int
    opening_hours: OpeningHours | None
    price_level: int
    tags: list[str]


class NearbyPlace(PlacePublic):
    distance_m: float = Field(description="Great-circle distance from the query point, metres")


class NearbyPage(BaseModel):
    """Places within the radius, nearest first."""

    items: list[NearbyPlace]
    count: int


class PlacesFound(BaseModel):
    """`GET /places?ids=…`: the places found, in the order asked, and the ids that were not."""

    items: list[PlacePublic]
    missing: list[str]


class PlacesPage(BaseModel):
    """`GET /places?city=…`: one page of a city's places, best rated first."""

    items: list[PlacePublic]
    total: int
    limit: int
    offset: int


class SearchResults(BaseModel):
    """Text search hits, best match first."""

    items: list[PlacePublic]
    count: int


class CityPublic(BaseModel):
    city: str
    country: str
    place_count: int
    lat: float = Field(description="Centre of the city's places")
    lng: float


class CitiesList(BaseModel):
    items: list[CityPublic]
    count: int

"""Input and output models of the planner (pydantic v2, frozen).

Inputs are validated here, once, so the rest of the planner can trust them; ai-service can embed
`TripRequest` and `Place` in its own request schemas and a validation error becomes its 422.
Times of day are "HH:MM" strings in the city's local time; "24:00" is allowed as a closing time.
Output datetimes are naive local datetimes (the city's wall clock), serialised as ISO 8601.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Pace = Literal["relaxed", "normal", "packed"]
Mode = Literal["walk", "transit", "car"]
# A leg's mode can differ from the trip's mode: short hops are walked (see travel.py).
LegMode = Literal["walk", "transit", "car"]
MealKind = Literal["lunch", "dinner"]

# Upper bound of visits per day for each pace: 3 relaxed, 5 normal, 7 packed.
PACE_MAX_VISITS: dict[str, int] = {"relaxed": 3, "normal": 5, "packed": 7}
LATEST_CLOSE = "48:00"  # a close past midnight written as 24:00 + hours
# Id used for the lodging in legs and meals (never a valid place id, see Place.id).
LODGING_ID = "@lodging"

_HHMM = re.compile(r"^(\d\d):([0-5]\d)$")


def parse_hhmm(value: str, *, latest: str = "24:00") -> int:
    """Minutes after midnight for "HH:MM", from 00:00 up to `latest` (a closing time may be
    written past midnight, e.g. "26:00" for 02:00 the next morning)."""
    match = _HHMM.match(value)
    limit = int(latest[:2]) * 60 + int(latest[3:])
    minutes = int(match[1]) * 60 + int(match[2]) if match else -1
    if not 0 <= minutes <= limit:
        raise ValueError(f"time must be HH:MM between 00:00 and {latest}, got {value!r}")
    return minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GeoPoint(_Frozen):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class Place(_Frozen):
    """A candidate place. `opening_hours=None` means open around the clock (streets, parks).

    With a dict, a weekday that is missing, null or an empty list is a closed day. Each interval
    is [open, close] in local time. Past midnight may be written either way the project's data
    uses: a close past 24:00 (["17:00", "26:00"], as in services/datainit/data/places.json) or a
    close earlier than the open (["17:00", "02:00"], as location-service stores it); the part
    after midnight belongs to the next weekday.
    """

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    rating: float = Field(ge=1, le=5)
    visit_duration_min: int = Field(ge=5, le=720)
    opening_hours: dict[Weekday, list[tuple[str, str]] | None] | None = None
    price_level: int = Field(1, ge=0, le=4)
    tags: tuple[str, ...] = ()
    city: str | None = None

    @field_validator("id")
    @classmethod
    def _id_not_lodging(cls, value: str) -> str:
        if value == LODGING_ID:
            raise ValueError(f"{LODGING_ID!r} is reserved for the lodging")
        return value

    @field_validator("category")
    @classmethod
    def _lower_category(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("tags")
    @classmethod
    def _lower_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.strip().lower() for t in value if t.strip())

    @field_validator("opening_hours")
    @classmethod
    def _check_hours(
        cls, value: dict[Weekday, list[tuple[str, str]] | None] | None
    ) -> dict[Weekday, list[tuple[str, str]] | None] | None:
        for day, intervals in (value or {}).items():
            for opens, closes in intervals or []:
                start, end = parse_hhmm(opens), parse_hhmm(closes, latest=LATEST_CLOSE)
                if start == end or start == 1440 or end - start > 1440:
                    raise ValueError(f"{day}: bad opening interval {opens}-{closes}")
        return value


class MealWindow(_Frozen):
    """A meal of `duration_min` that must start at or after `earliest` and end by `latest`."""

    earliest: str
    latest: str
    duration_min: int = Field(ge=15, le=180)

    @model_validator(mode="after")
    def _fits(self) -> MealWindow:
        if parse_hhmm(self.latest) - parse_hhmm(self.earliest) < self.duration_min:
            raise ValueError("meal window is shorter than the meal")
        return self


class WishWeights(_Frozen):
    """Extra prize multipliers (e.g. from LLM-parsed wishes): 1 = neutral, 2 = twice the prize,
    0 = never pick. Keys are lower-case category names and tags."""

    categories: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, float] = Field(default_factory=dict)

    @field_validator("categories", "tags")
    @classmethod
    def _bounded(cls, value: dict[str, float]) -> dict[str, float]:
        for key, weight in value.items():
            if not 0 <= weight <= 5:
                raise ValueError(f"weight for {key!r} must be within 0..5, got {weight}")
        return {k.strip().lower(): w for k, w in value.items()}


def _default_lunch() -> MealWindow:
    return MealWindow(earliest="11:30", latest="14:00", duration_min=60)


def _default_dinner() -> MealWindow:
    return MealWindow(earliest="17:30", latest="20:30", duration_min=75)


class TripRequest(_Frozen):
    """What the traveller asked for. One lodging for the whole trip (or the city centre)."""

    start_date: date
    days: int = Field(ge=1, le=30)
    lodging: GeoPoint
    pace: Pace = "normal"
    # Overrides the pace's bound when set (e.g. a power user asking for exactly 4 a day).
    max_visits_per_day: int | None = Field(None, ge=1, le=12)
    preferred_categories: tuple[str, ...] = ()
    must_visit: tuple[str, ...] = ()
    mode: Mode = "transit"
    day_start: str = "09:00"
    day_end: str = "21:00"
    lunch: MealWindow | None = Field(default_factory=_default_lunch)
    dinner: MealWindow | None = Field(default_factory=_default_dinner)
    # Highest comfortable price level (0–4); pricier places lose prize, they are not excluded.
    budget_level: int | None = Field(None, ge=0, le=4)
    # Month for the seasonal weights; defaults to the start date's month.
    month: int | None = Field(None, ge=1, le=12)
    # Category → weight for that month, e.g. from the seasonal-pattern data; replaces the
    # built-in table (scoring.SEASONAL_WEIGHTS) for the categories it names.
    seasonal_weights: dict[str, float] | None = None
    wishes: WishWeights = Field(default_factory=WishWeights)

    @field_validator("day_start", "day_end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parse_hhmm(value)
        return value

    @field_validator("preferred_categories")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value if v.strip())

    @field_validator("must_visit")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _window(self) -> TripRequest:
        if parse_hhmm(self.day_end) - parse_hhmm(self.day_start) < 60:
            raise ValueError("the daily window must be at least one hour long")
        return self

    @property
    def max_visits(self) -> int:
        return self.max_visits_per_day or PACE_MAX_VISITS[self.pace]

    @property
    def season_month(self) -> int:
        return self.month or self.start_date.month


# ----------------------------------------------------------------------------- output


class Visit(_Frozen):
    place_id: str
    name: str
    category: str
    arrival: datetime  # when the traveller gets there
    start: datetime  # when the visit starts (after waiting for opening or a meal)
    departure: datetime  # start + visit duration
    duration_min: int
    prize: float
    must_visit: bool
    reason: str


class Leg(_Frozen):
    from_id: str  # place id or LODGING_ID
    to_id: str
    depart: datetime
    arrive: datetime
    minutes: int
    km: float
    mode: LegMode


class Meal(_Frozen):
    kind: MealKind
    start: datetime
    end: datetime
    near_id: str  # the place (or LODGING_ID) where the traveller is when it starts


class Totals(_Frozen):
    visits: int
    travel_minutes: int
    travel_km: float
    prize: float


class DayPlan(_Frozen):
    day: int  # 1-based
    date: date
    weekday: Weekday
    depart_lodging: datetime
    return_lodging: datetime
    visits: tuple[Visit, ...]
    legs: tuple[Leg, ...]
    meals: tuple[Meal, ...]
    totals: Totals


class Itinerary(_Frozen):
    days: tuple[DayPlan, ...]
    totals: Totals
    # Solver objective (minimised): prizes of the candidates left out + travel cost, in the
    # solver's integer units (prize points × 1000, travel `travel_cost_per_min` per minute).
    objective: int
    # prize collected − travel cost, in prize points: the maximisation view of the objective
    # without the constant of all candidates' prizes; what the benchmark compares.
    score: float
    status: str  # OR-Tools RoutingSearchStatus name
    solve_ms: float  # wall time of the whole plan_itinerary call
    candidates_total: int
    candidates_considered: int  # after the pre-filter
    # Visits the solver chose but that had to be dropped when laying out meals (rare).
    repaired_visits: tuple[str, ...] = ()

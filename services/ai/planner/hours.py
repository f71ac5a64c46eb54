"""Opening hours → minute intervals per weekday, and the trip's clock.

The scheduler's clock is "trip minutes": minute m (after midnight) of trip day d (0-based) is
d * 1440 + m. The solver uses minutes after midnight on every day (see solver.py); the output
converts trip minutes back to datetimes and the checker only sees datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.ai.planner.models import (
    LATEST_CLOSE,
    WEEKDAYS,
    MealKind,
    MealWindow,
    Place,
    TripRequest,
    Weekday,
    parse_hhmm,
)

DAY = 1440
Interval = tuple[int, int]  # [start, end) in minutes after midnight
ALWAYS_OPEN: tuple[Interval, ...] = ((0, DAY),)
_ALWAYS: dict[Weekday, tuple[Interval, ...]] = dict.fromkeys(WEEKDAYS, ALWAYS_OPEN)


# Parsed opening hours per (place id, hours as text), kept across requests in a planner process:
# the same city's places come with every request. Bounded: cleared when full.
_WEEKLY_CACHE: dict[tuple[str, str], dict[Weekday, tuple[Interval, ...]]] = {}
_WEEKLY_CACHE_MAX = 50_000


def weekly_intervals(place: Place) -> dict[Weekday, tuple[Interval, ...]]:
    """Sorted, merged opening intervals for each weekday (empty tuple = closed). The result is
    shared between calls: do not modify it."""
    if place.opening_hours is None:
        return _ALWAYS
    key = (place.id, repr(place.opening_hours))
    found = _WEEKLY_CACHE.get(key)
    if found is None:
        if len(_WEEKLY_CACHE) > _WEEKLY_CACHE_MAX:
            _WEEKLY_CACHE.clear()
        found = _WEEKLY_CACHE[key] = _parse_weekly(place.opening_hours)
    return found


def _parse_weekly(
    opening_hours: dict[Weekday, list[tuple[str, str]] | None],
) -> dict[Weekday, tuple[Interval, ...]]:
    raw: dict[Weekday, list[Interval]] = {day: [] for day in WEEKDAYS}
    for i, day in enumerate(WEEKDAYS):
        for opens, closes in opening_hours.get(day) or []:
            start, end = parse_hhmm(opens), parse_hhmm(closes, latest=LATEST_CLOSE)
            if end < start:  # "17:00"-"02:00": same as "17:00"-"26:00"
                end += DAY
            raw[day].append((start, min(end, DAY)))
            if end > DAY:  # the tail after midnight belongs to the next weekday
                raw[WEEKDAYS[(i + 1) % 7]].append((0, end - DAY))
    return {day: _merge(intervals) for day, intervals in raw.items()}


def _merge(intervals: list[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def weekday_of(start_date: date, day: int) -> Weekday:
    return WEEKDAYS[(start_date + timedelta(days=day)).weekday()]


def to_datetime(start_date: date, trip_minute: int) -> datetime:
    return datetime(start_date.year, start_date.month, start_date.day) + timedelta(
        minutes=trip_minute
    )


def day_window(trip: TripRequest) -> Interval:
    return parse_hhmm(trip.day_start), parse_hhmm(trip.day_end)


@dataclass(frozen=True, slots=True)
class MealSlot:
    """A meal on every trip day: start in [earliest, latest_end - duration] (minutes of day)."""

    kind: MealKind
    earliest: int
    latest_end: int
    duration: int

    @property
    def latest_start(self) -> int:
        return self.latest_end - self.duration


def meal_slots(trip: TripRequest) -> tuple[MealSlot, ...]:
    """The trip's meals clipped to the daily window; a meal that no longer fits is skipped
    (a day from 14:00 has no lunch)."""
    ws, we = day_window(trip)
    slots: list[MealSlot] = []
    meals: tuple[tuple[MealKind, MealWindow | None], ...] = (
        ("lunch", trip.lunch),
        ("dinner", trip.dinner),
    )
    for kind, meal in meals:
        if meal is None:
            continue
        earliest = max(parse_hhmm(meal.earliest), ws)
        latest_end = min(parse_hhmm(meal.latest), we)
        if latest_end - earliest >= meal.duration_min:
            slots.append(MealSlot(kind, earliest, latest_end, meal.duration_min))
    return tuple(slots)


@dataclass(frozen=True, slots=True)
class DayRules:
    """What every trip day must respect, in minutes after midnight."""

    day_start: int
    day_end: int
    slots: tuple[MealSlot, ...]
    max_visits: int


def day_rules(trip: TripRequest) -> DayRules:
    start, end = day_window(trip)
    return DayRules(start, end, meal_slots(trip), trip.max_visits)

"""From places and a trip to the candidates the solver sees.

Three jobs: (1) each place's visit-start windows on each trip day (minutes after midnight), already
narrowed by the daily window and by the travel from and back to the lodging; (2) the must-visit
checks that can be answered without a solver, each with its own error; (3) the pre-filter that
keeps the solver small: the best `K` places by prize and closeness to the lodging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from services.ai.planner.errors import (
    MustVisitClosedError,
    MustVisitUnreachableError,
    NoCandidatesError,
    TooManyMustVisitsError,
    UnknownPlaceError,
)
from services.ai.planner.hours import weekday_of, weekly_intervals
from services.ai.planner.models import Place, TripRequest, parse_hhmm
from services.ai.planner.scoring import prize_of
from services.ai.planner.travel import Hop, travel

Window = tuple[int, int]  # the visit may start at any minute after midnight in [lo, hi]

# Distance (km) at which closeness halves a place's pre-filter key, per mode.
_PROXIMITY_KM = {"walk": 2.0, "transit": 6.0, "car": 10.0}


@dataclass(frozen=True, slots=True)
class Candidate:
    place: Place
    prize_units: int
    prize_points: float
    reason: str
    must_visit: bool
    day_windows: tuple[tuple[Window, ...], ...]  # per trip day; sorted, disjoint; () = not that day
    from_lodging: Hop
    to_lodging: Hop

    @property
    def open_days(self) -> tuple[int, ...]:
        return tuple(d for d, windows in enumerate(self.day_windows) if windows)


def meal_minutes(trip: TripRequest) -> int:
    return sum(m.duration_min for m in (trip.lunch, trip.dinner) if m is not None)


def build_candidates(places: Sequence[Place], trip: TripRequest) -> list[Candidate]:
    """Every place that can be visited on at least one trip day; raises for must-visits that
    cannot. Places with a wish weight of 0 are left out unless they are must-visits."""
    by_id: dict[str, Place] = {}
    for place in places:
        by_id.setdefault(place.id, place)
    unknown = [pid for pid in trip.must_visit if pid not in by_id]
    if unknown:
        raise UnknownPlaceError(f"must-visit place(s) not among the candidates: {unknown}")
    must = set(trip.must_visit)
    ws, we = parse_hhmm(trip.day_start), parse_hhmm(trip.day_end)
    weekdays = [weekday_of(trip.start_date, d) for d in range(trip.days)]

    result: list[Candidate] = []
    for place in by_id.values():
        is_must = place.id in must
        prize = prize_of(place, trip, must_visit=is_must)
        if prize.points <= 0 and not is_must:
            continue
        there = travel(trip.lodging.lat, trip.lodging.lng, place.lat, place.lng, trip.mode)
        back = travel(place.lat, place.lng, trip.lodging.lat, trip.lodging.lng, trip.mode)
        hours = weekly_intervals(place)
        day_windows: list[tuple[Window, ...]] = []
        open_hours = False
        for weekday in weekdays:
            windows: list[Window] = []
            for opens, closes in hours[weekday]:
                lo, hi = max(opens, ws), min(closes, we) - place.visit_duration_min
                if lo <= hi:
                    open_hours = True
                lo = max(lo, ws + there.minutes)
                hi = min(hi, we - back.minutes - place.visit_duration_min)
                if lo <= hi:
                    windows.append((lo, hi))
            day_windows.append(tuple(windows))
        if not any(day_windows):
            if is_must and not open_hours:
                days = ", ".join(
                    f"{w} {trip.start_date + timedelta(days=d)}" for d, w in enumerate(weekdays)
                )
                if trip.days > 7:  # every weekday is in the trip: name the span instead
                    last = trip.start_date + timedelta(days=trip.days - 1)
                    days = f"{trip.start_date} to {last}"
                raise MustVisitClosedError(
                    f"must-visit {place.name!r} ({place.id}) is closed, or open too briefly for "
                    f"a {place.visit_duration_min}-min visit between {trip.day_start} and "
                    f"{trip.day_end}, on every trip day ({days})"
                )
            if is_must:
                raise MustVisitUnreachableError(
                    f"must-visit {place.name!r} ({place.id}) cannot be reached from the lodging "
                    f"({there.minutes} min by {there.mode}), visited for "
                    f"{place.visit_duration_min} min and left again within its opening hours "
                    f"and the daily window {trip.day_start}-{trip.day_end}"
                )
            continue
        result.append(
            Candidate(
                place=place,
                prize_units=prize.units,
                prize_points=prize.points,
                reason=prize.reason,
                must_visit=is_must,
                day_windows=tuple(day_windows),
                from_lodging=there,
                to_lodging=back,
            )
        )
    if not result:
        raise NoCandidatesError("no candidate place is open on any day of the trip")
    _check_must_visit_capacity([c for c in result if c.must_visit], trip)
    return result


def _check_must_visit_capacity(musts: list[Candidate], trip: TripRequest) -> None:
    """Counting arguments only; what they miss, the solver's result reports."""
    if len(musts) > trip.days * trip.max_visits:
        raise TooManyMustVisitsError(
            f"{len(musts)} must-visit places but a {trip.days}-day {trip.pace} trip allows at "
            f"most {trip.days * trip.max_visits} visits ({trip.max_visits} a day)"
        )
    window = parse_hhmm(trip.day_end) - parse_hhmm(trip.day_start)
    available = trip.days * (window - meal_minutes(trip))
    needed = sum(c.place.visit_duration_min for c in musts)
    if needed > available:
        raise TooManyMustVisitsError(
            f"the must-visit places need {needed} min of visiting but the trip has only "
            f"{available} min between {trip.day_start} and {trip.day_end} after meals"
        )
    # The same counting per day for places open on a single trip day only.
    per_day: dict[int, list[Candidate]] = {}
    for c in musts:
        if len(c.open_days) == 1:
            per_day.setdefault(c.open_days[0], []).append(c)
    for day, group in per_day.items():
        minutes = sum(c.place.visit_duration_min for c in group)
        if len(group) > trip.max_visits or minutes > window - meal_minutes(trip):
            names = ", ".join(repr(c.place.name) for c in group)
            raise TooManyMustVisitsError(
                f"must-visit places {names} can only be visited on day {day + 1} "
                f"and do not all fit into it"
            )


def prefilter(candidates: list[Candidate], trip: TripRequest, limit: int) -> list[Candidate]:
    """Must-visits plus the best `limit` others by prize × closeness (deterministic order)."""
    scale = _PROXIMITY_KM[trip.mode]
    musts = [c for c in candidates if c.must_visit]
    others = [c for c in candidates if not c.must_visit]
    others.sort(key=lambda c: (-c.prize_points / (1 + c.from_lodging.km / scale), c.place.id))
    kept = musts + others[: max(0, limit - len(musts))]
    return sorted(kept, key=lambda c: c.place.id)


def candidate_limit(trip: TripRequest, factor: float, floor: int, ceiling: int) -> int:
    """K ≈ days × visits a day × factor: enough choice per slot without a huge model."""
    return max(floor, min(ceiling, round(trip.days * trip.max_visits * factor)))

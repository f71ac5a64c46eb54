"""`verify_itinerary`: an independent check of a finished itinerary against the request.

It shares nothing with the solver or the scheduler — only the input models and the two spec
functions every party must agree on (opening hours parsing and the travel model). It works on
the output as a caller sees it (datetimes), so a hand-edited or deserialised plan can be checked
too. Every broken rule is collected, then raised at once as `ItineraryViolation`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from services.ai.planner.errors import ItineraryViolation
from services.ai.planner.hours import meal_slots, weekly_intervals
from services.ai.planner.models import (
    LODGING_ID,
    WEEKDAYS,
    DayPlan,
    Itinerary,
    Place,
    TripRequest,
    parse_hhmm,
)
from services.ai.planner.travel import travel

_KM_TOLERANCE = 0.011
_PRIZE_TOLERANCE = 0.01


def verify_itinerary(
    itinerary: Itinerary, places: Sequence[Place] | Mapping[str, Place], trip: TripRequest
) -> None:
    """Raise `ItineraryViolation` listing every rule the itinerary breaks; return None if valid.

    Rules: one plan per trip day with the right date; visits only of known places, each at most
    once, inside an opening interval of that weekday (so never on a closed day) and inside the
    daily window; no two activities (legs, visits, meals) overlap; each leg's minutes, km and
    mode equal the travel model's and legs chain lodging → visits → lodging with no gaps in the
    route; arrival ≤ start and departure = start + visit duration; the trip's meals present with
    their duration inside their window; at most the pace's visits a day; all must-visits present;
    totals add up.
    """
    by_id = dict(places) if isinstance(places, Mapping) else {p.id: p for p in places}
    problems: list[str] = []
    if len(itinerary.days) != trip.days:
        problems.append(f"plan has {len(itinerary.days)} days, the trip has {trip.days}")
    seen: dict[str, int] = {}
    for index, day in enumerate(itinerary.days):
        problems.extend(_check_day(index, day, by_id, trip, seen))
    missing = [pid for pid in trip.must_visit if pid not in seen]
    if missing:
        problems.append(f"must-visit place(s) missing: {missing}")
    problems.extend(_check_totals(itinerary))
    if problems:
        raise ItineraryViolation(problems)


def _check_day(
    index: int, day: DayPlan, by_id: Mapping[str, Place], trip: TripRequest, seen: dict[str, int]
) -> list[str]:
    p: list[str] = []
    label = f"day {day.day}"
    expected_date = trip.start_date + timedelta(days=index)
    if day.day != index + 1 or day.date != expected_date:
        p.append(f"{label}: expected day {index + 1} on {expected_date}, got {day.date}")
    if day.weekday != WEEKDAYS[day.date.weekday()]:
        p.append(f"{label}: {day.date} is not a {day.weekday}")
    midnight = datetime(day.date.year, day.date.month, day.date.day)
    open_at = midnight + timedelta(minutes=parse_hhmm(trip.day_start))
    close_at = midnight + timedelta(minutes=parse_hhmm(trip.day_end))

    def inside_day(what: str, start: datetime, end: datetime) -> None:
        if start > end:
            p.append(f"{label}: {what} ends before it starts")
        if start < open_at or end > close_at:
            p.append(
                f"{label}: {what} {start:%H:%M}-{end:%H:%M} is outside the daily window "
                f"{trip.day_start}-{trip.day_end}"
            )

    inside_day("the day", day.depart_lodging, day.return_lodging)
    if len(day.visits) > trip.max_visits:
        p.append(f"{label}: {len(day.visits)} visits exceed the pace limit of {trip.max_visits}")

    activities: list[tuple[datetime, datetime, str]] = []
    for visit in day.visits:
        place = by_id.get(visit.place_id)
        if place is None:
            p.append(f"{label}: visit of unknown place {visit.place_id!r}")
            continue
        if visit.place_id in seen:
            p.append(f"{visit.place_id} is visited twice (days {seen[visit.place_id]}, {day.day})")
        seen[visit.place_id] = day.day
        what = f"visit of {place.name!r}"
        if visit.start < visit.arrival:
            p.append(f"{label}: {what} starts before the traveller arrives")
        if visit.departure - visit.start != timedelta(minutes=place.visit_duration_min):
            p.append(f"{label}: {what} does not last its {place.visit_duration_min} min")
        inside_day(what, visit.start, visit.departure)
        p.extend(_check_open(label, what, place, visit.start, visit.departure))
        activities.append((visit.start, visit.departure, what))

    p.extend(_check_legs(label, day, by_id, trip, activities))

    slots = {slot.kind: slot for slot in meal_slots(trip)}
    kinds = [meal.kind for meal in day.meals]
    if sorted(kinds) != sorted(slots):
        p.append(f"{label}: meals {sorted(kinds)} but the trip asks for {sorted(slots)}")
    for meal in day.meals:
        slot = slots.get(meal.kind)
        what = f"{meal.kind} {meal.start:%H:%M}-{meal.end:%H:%M}"
        if slot is None:
            continue
        if meal.end - meal.start != timedelta(minutes=slot.duration):
            p.append(f"{label}: {what} does not last {slot.duration} min")
        if meal.start < midnight + timedelta(minutes=slot.earliest) or meal.end > (
            midnight + timedelta(minutes=slot.latest_end)
        ):
            p.append(f"{label}: {what} is outside its window")
        inside_day(what, meal.start, meal.end)
        if not any(
            pid == meal.near_id and since <= meal.start and meal.end <= until
            for pid, since, until in _whereabouts(day)
        ):
            p.append(f"{label}: {what} is not while the traveller is at {meal.near_id!r}")
        activities.append((meal.start, meal.end, what))

    activities.sort()
    for (_, end_a, what_a), (start_b, _, what_b) in pairwise(activities):
        if start_b < end_a:
            p.append(f"{label}: {what_a} overlaps {what_b}")
    for moment in _moments(day):
        if moment.second or moment.microsecond:
            p.append(f"{label}: {moment} is not on a whole minute")
            break
    return p


def _check_open(
    label: str, what: str, place: Place, start: datetime, end: datetime
) -> Iterable[str]:
    weekday = WEEKDAYS[start.weekday()]
    intervals = weekly_intervals(place)[weekday]
    if not intervals:
        return [f"{label}: {what} on a {weekday}, when it is closed"]
    begin = start.hour * 60 + start.minute
    finish = begin + int((end - start).total_seconds() // 60)
    if not any(lo <= begin and finish <= hi for lo, hi in intervals):
        return [f"{label}: {what} {start:%H:%M}-{end:%H:%M} is outside its opening hours"]
    return []


def _check_legs(
    label: str,
    day: DayPlan,
    by_id: Mapping[str, Place],
    trip: TripRequest,
    activities: list[tuple[datetime, datetime, str]],
) -> list[str]:
    p: list[str] = []
    stops = [LODGING_ID, *(v.place_id for v in day.visits), LODGING_ID]
    expected = list(pairwise(stops)) if day.visits else []
    got = [(leg.from_id, leg.to_id) for leg in day.legs]
    if got != expected:
        p.append(f"{label}: legs {got} do not chain lodging → visits → lodging")
        return p

    def point(pid: str) -> tuple[float, float]:
        if pid == LODGING_ID:
            return trip.lodging.lat, trip.lodging.lng
        place = by_id.get(pid)
        return (place.lat, place.lng) if place else (0.0, 0.0)

    for k, leg in enumerate(day.legs):
        what = f"leg {leg.from_id}→{leg.to_id}"
        hop = travel(*point(leg.from_id), *point(leg.to_id), trip.mode)
        if leg.minutes != hop.minutes or leg.mode != hop.mode:
            p.append(
                f"{label}: {what} says {leg.minutes} min by {leg.mode}, "
                f"the travel model says {hop.minutes} min by {hop.mode}"
            )
        if abs(leg.km - hop.km) > _KM_TOLERANCE:
            p.append(f"{label}: {what} says {leg.km} km, the travel model says {hop.km} km")
        if leg.arrive - leg.depart != timedelta(minutes=leg.minutes):
            p.append(f"{label}: {what} departs and arrives {leg.minutes} min apart? it does not")
        if k < len(day.visits) and leg.arrive != day.visits[k].arrival:
            p.append(
                f"{label}: {what} arrives at {leg.arrive:%H:%M}, the visit says "
                f"{day.visits[k].arrival:%H:%M}"
            )
        if k > 0 and leg.depart < day.visits[k - 1].departure:
            p.append(f"{label}: {what} leaves before the visit there is over")
        activities.append((leg.depart, leg.arrive, what))
    if day.legs:
        if day.legs[0].depart < day.depart_lodging:
            p.append(f"{label}: the first leg leaves before the day starts")
        if day.legs[-1].arrive != day.return_lodging:
            p.append(f"{label}: the last leg does not end at the return to the lodging")
    return p


def _check_totals(itinerary: Itinerary) -> list[str]:
    p: list[str] = []
    for day in itinerary.days:
        t = day.totals
        if t.visits != len(day.visits):
            p.append(f"day {day.day}: totals say {t.visits} visits, the plan has {len(day.visits)}")
        if t.travel_minutes != sum(leg.minutes for leg in day.legs):
            p.append(f"day {day.day}: travel minutes do not add up")
        if abs(t.travel_km - sum(leg.km for leg in day.legs)) > _KM_TOLERANCE * 10:
            p.append(f"day {day.day}: travel km do not add up")
        if abs(t.prize - sum(v.prize for v in day.visits)) > _PRIZE_TOLERANCE:
            p.append(f"day {day.day}: prize does not add up")
    total = itinerary.totals
    if total.visits != sum(d.totals.visits for d in itinerary.days) or (
        total.travel_minutes != sum(d.totals.travel_minutes for d in itinerary.days)
    ):
        p.append("trip totals do not add up")
    return p


def _whereabouts(day: DayPlan) -> list[tuple[str, datetime, datetime]]:
    """Where the traveller is between legs: (place id or lodging, from, until)."""
    if not day.legs:
        return [(LODGING_ID, datetime.min, datetime.max)]
    spans = [(LODGING_ID, datetime.min, day.legs[0].depart)]
    for visit, leg_out in zip(day.visits, day.legs[1:], strict=False):
        spans.append((visit.place_id, visit.arrival, leg_out.depart))
    spans.append((LODGING_ID, day.legs[-1].arrive, datetime.max))
    return spans


def _moments(day: DayPlan) -> Iterable[datetime]:
    yield day.depart_lodging
    yield day.return_lodging
    for v in day.visits:
        yield from (v.arrival, v.start, v.departure)
    for leg in day.legs:
        yield from (leg.depart, leg.arrive)
    for m in day.meals:
        yield from (m.start, m.end)

"""Builders for small, hand-made planner instances (imported by the planner tests).

Distances are given in km north/east of the lodging so a test reads like a sketch map.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from services.ai.planner import GeoPoint, Place, SolverOptions, TripRequest
from services.ai.planner.models import (
    LODGING_ID,
    WEEKDAYS,
    DayPlan,
    Itinerary,
    Leg,
    Meal,
    Totals,
    Visit,
    Weekday,
)
from services.ai.planner.travel import travel

MONDAY = date(2025, 10, 6)
CENTRE = GeoPoint(lat=37.5663, lng=126.9779)  # Seoul City Hall
# Small instances converge in milliseconds: a short stall keeps the suite fast.
QUICK = SolverOptions(time_limit_s=1.0, stall_s=0.05)
# Deterministic: the search stops after a fixed number of solutions, never on the clock.
DETERMINISTIC = SolverOptions(time_limit_s=60.0, stall_s=None, solution_limit=60)


def at(north_km: float = 0.0, east_km: float = 0.0) -> tuple[float, float]:
    lat = CENTRE.lat + north_km / 111.2
    lng = CENTRE.lng + east_km / (111.2 * math.cos(math.radians(CENTRE.lat)))
    return round(lat, 6), round(lng, 6)


def hours(
    opens: str = "00:00", closes: str = "24:00", closed: tuple[Weekday, ...] = ()
) -> dict[Weekday, list[tuple[str, str]] | None]:
    return {d: (None if d in closed else [(opens, closes)]) for d in WEEKDAYS}


def place(
    pid: str,
    *,
    north: float = 0.0,
    east: float = 0.0,
    category: str = "culture",
    rating: float = 4.0,
    duration: int = 60,
    opening: dict[Weekday, list[tuple[str, str]] | None] | None = None,
    price: int = 1,
    tags: tuple[str, ...] = (),
) -> Place:
    lat, lng = at(north, east)
    return Place(
        id=pid,
        name=f"Place {pid}",
        category=category,
        lat=lat,
        lng=lng,
        rating=rating,
        visit_duration_min=duration,
        opening_hours=opening,
        price_level=price,
        tags=tags,
    )


def trip(**overrides: Any) -> TripRequest:
    values: dict[str, Any] = {"start_date": MONDAY, "days": 1, "lodging": CENTRE}
    values.update(overrides)
    return TripRequest(**values)


def ring(n: int, radius_km: float = 1.0, **kwargs: Any) -> list[Place]:
    """n places on a circle around the lodging."""
    return [
        place(
            f"r{i:02d}",
            north=radius_km * math.cos(2 * math.pi * i / n),
            east=radius_km * math.sin(2 * math.pi * i / n),
            **kwargs,
        )
        for i in range(n)
    ]


def hand_plan(places: list[Place], request: TripRequest) -> Itinerary:
    """A valid one-day plan built by hand (no solver): visit `places` in order from 10:00,
    back to back with the travel model's legs, lunch (from 11:30) where the traveller is before
    the leg whose visit would end after 12:30,
    dinner at the lodging after the return. Used to break rules one at a time."""
    day = request.start_date
    t = datetime(day.year, day.month, day.day, 9, 50)
    visits: list[Visit] = []
    legs: list[Leg] = []
    meals: list[Meal] = []
    here_id, here = LODGING_ID, (request.lodging.lat, request.lodging.lng)
    for p in places:
        hop = travel(*here, p.lat, p.lng, request.mode)
        visit_end = t + timedelta(minutes=hop.minutes + p.visit_duration_min)
        if visit_end > t.replace(hour=12, minute=30) and not meals:  # lunch before this leg
            meals.append(_meal("lunch", max(t, t.replace(hour=11, minute=30)), 60, here_id))
            t = meals[-1].end
        legs.append(
            Leg(
                from_id=here_id,
                to_id=p.id,
                depart=t,
                arrive=t + timedelta(minutes=hop.minutes),
                minutes=hop.minutes,
                km=hop.km,
                mode=hop.mode,
            )
        )
        t += timedelta(minutes=hop.minutes)
        start = t
        visits.append(
            Visit(
                place_id=p.id,
                name=p.name,
                category=p.category,
                arrival=t,
                start=start,
                departure=start + timedelta(minutes=p.visit_duration_min),
                duration_min=p.visit_duration_min,
                prize=1.0,
                must_visit=False,
                reason="by hand",
            )
        )
        t = visits[-1].departure
        here_id, here = p.id, (p.lat, p.lng)
    hop = travel(*here, request.lodging.lat, request.lodging.lng, request.mode)
    legs.append(
        Leg(
            from_id=here_id,
            to_id=LODGING_ID,
            depart=t,
            arrive=t + timedelta(minutes=hop.minutes),
            minutes=hop.minutes,
            km=hop.km,
            mode=hop.mode,
        )
    )
    back = legs[-1].arrive
    if not meals:
        meals.append(_meal("lunch", max(back, t.replace(hour=12, minute=30)), 60, LODGING_ID))
    dinner_start = max(back, back.replace(hour=17, minute=30))
    meals.append(_meal("dinner", dinner_start, 75, LODGING_ID))
    totals = Totals(
        visits=len(visits),
        travel_minutes=sum(leg.minutes for leg in legs),
        travel_km=round(sum(leg.km for leg in legs), 2),
        prize=float(len(visits)),
    )
    plan = DayPlan(
        day=1,
        date=day,
        weekday=WEEKDAYS[day.weekday()],
        depart_lodging=legs[0].depart,
        return_lodging=back,
        visits=tuple(visits),
        legs=tuple(legs),
        meals=tuple(meals),
        totals=totals,
    )
    return Itinerary(
        days=(plan,),
        totals=totals,
        objective=0,
        score=0.0,
        status="HAND",
        solve_ms=0.0,
        candidates_total=len(places),
        candidates_considered=len(places),
    )


def _meal(kind: str, start: datetime, minutes: int, near: str) -> Meal:
    return Meal.model_validate(
        {"kind": kind, "start": start, "end": start + timedelta(minutes=minutes), "near_id": near}
    )


def replace_day(itinerary: Itinerary, **changes: Any) -> Itinerary:
    """The itinerary with its first day changed (models are frozen: copy with updates)."""
    day = itinerary.days[0].model_copy(update=changes)
    return itinerary.model_copy(update={"days": (day, *itinerary.days[1:])})

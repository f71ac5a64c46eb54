"""`plan_itinerary`: places + trip → a verified itinerary. The only entry point ai-service needs.

Pipeline: candidates (windows, must-visit checks) → pre-filter (top K) → travel matrix → solver
(which places, which day, what order) → scheduler (exact times, meals) → output models →
`verify_itinerary`. A plan that fails the checker is never returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial

from services.ai.planner.candidates import (
    Candidate,
    build_candidates,
    candidate_limit,
    prefilter,
)
from services.ai.planner.checker import verify_itinerary
from services.ai.planner.errors import (
    MustVisitUnreachableError,
    SolverTimeout,
    TooManyMustVisitsError,
)
from services.ai.planner.hours import DayRules, day_rules, to_datetime, weekday_of
from services.ai.planner.models import (
    LODGING_ID,
    DayPlan,
    Itinerary,
    Leg,
    Meal,
    Place,
    Totals,
    TripRequest,
    Visit,
    format_hhmm,
)
from services.ai.planner.schedule import DaySchedule, fits_alone, schedule_day
from services.ai.planner.scoring import PRIZE_UNITS
from services.ai.planner.seed import route_starts
from services.ai.planner.solver import RouteSolution, SolverOptions, solve
from services.ai.planner.travel import Hop, travel_matrix


def plan_itinerary(
    places: Sequence[Place],
    trip: TripRequest,
    *,
    time_limit_s: float | None = None,
    options: SolverOptions | None = None,
) -> Itinerary:
    """Plan `trip` over `places`; `time_limit_s` overrides `options.time_limit_s`.

    Raises a `PlanningError` subclass when the request cannot be planned, `SolverTimeout` when
    no plan was found in time, `ItineraryViolation` if the result failed the checker (a bug).
    """
    started = time.perf_counter()
    opts = options or SolverOptions()
    if time_limit_s is not None:
        opts = replace(opts, time_limit_s=time_limit_s)

    everything, candidates, hops = solver_inputs(places, trip, opts)
    minutes = [[hop.minutes for hop in row] for row in hops]

    remaining = max(0.05, opts.time_limit_s - (time.perf_counter() - started))
    solution = solve(candidates, minutes, trip, replace(opts, time_limit_s=remaining))
    if solution is None:
        raise SolverTimeout(
            f"no itinerary found within {opts.time_limit_s:.2f} s for {len(candidates)} "
            f"candidates over {trip.days} days"
        )
    if solution.dropped_must:
        names = ", ".join(
            f"{candidates[i].place.name!r} ({candidates[i].place.id})"
            for i in solution.dropped_must
        )
        raise TooManyMustVisitsError(
            f"could not fit must-visit place(s) {names} into the {trip.days}-day trip: their "
            f"opening hours, visit durations and travel times leave no room between "
            f"{trip.day_start} and {trip.day_end}"
        )

    schedules = _schedule(solution, candidates, hops, trip)
    itinerary = _assemble(
        schedules, candidates, trip, solution, len(everything), started, opts.travel_cost_per_min
    )
    verify_itinerary(itinerary, places, trip)
    return itinerary


def solver_inputs(
    places: Sequence[Place], trip: TripRequest, opts: SolverOptions
) -> tuple[list[Candidate], list[Candidate], list[list[Hop]]]:
    """What the search works on: every feasible candidate, the pre-filtered ones the solver
    sees, and the travel between them (index 0 = the lodging, i + 1 = candidate i). Public for
    the benchmark's exact reference, which must solve the very same instance."""
    rules = day_rules(trip)
    everything = _feasible_days(build_candidates(places, trip), trip, rules)
    limit = candidate_limit(
        trip, opts.candidate_factor, opts.candidate_floor, opts.candidate_ceiling
    )
    candidates = prefilter(everything, trip, limit)
    points = [(trip.lodging.lat, trip.lodging.lng)] + [
        (c.place.lat, c.place.lng) for c in candidates
    ]
    # Index 0 is this trip's lodging; the place-to-place hops are kept across requests.
    return everything, candidates, travel_matrix(points, trip.mode, cached_from=1)


def _feasible_days(
    candidates: list[Candidate], trip: TripRequest, rules: DayRules
) -> list[Candidate]:
    """Keep only the days on which a place fits as the day's only visit, meals included: a
    day it cannot fit alone it cannot fit with others either. Cuts the solver's nodes and
    turns "a must-visit that leaves no room for lunch" into a clear error before solving."""
    kept: list[Candidate] = []
    for cand in candidates:
        verdicts: dict[tuple[tuple[int, int], ...], bool] = {}  # same hours → same verdict
        day_windows: list[tuple[tuple[int, int], ...]] = []
        for day, windows in enumerate(cand.day_windows):
            if windows and windows not in verdicts:
                alone = [[0, cand.from_lodging.minutes], [cand.to_lodging.minutes, 0]]
                quick = route_starts(day, [0], [cand], alone, rules) is not None
                verdicts[windows] = quick or fits_alone(cand, day, rules)
            day_windows.append(windows if windows and verdicts[windows] else ())
        if any(day_windows):
            kept.append(replace(cand, day_windows=tuple(day_windows)))
        elif cand.must_visit:
            meals = ", ".join(
                f"{s.kind} ({s.duration} min within {format_hhmm(s.earliest)}-"
                f"{format_hhmm(s.latest_end)})"
                for s in rules.slots
            )
            raise MustVisitUnreachableError(
                f"must-visit {cand.place.name!r} ({cand.place.id}) cannot be visited for "
                f"{cand.place.visit_duration_min} min on any trip day while keeping "
                f"{meals or 'the trip'} inside {trip.day_start}-{trip.day_end}"
            )
    return kept


def _schedule(
    solution: RouteSolution, candidates: list[Candidate], hops: list[list[Hop]], trip: TripRequest
) -> list[DaySchedule]:
    rules = day_rules(trip)
    schedules: list[DaySchedule] = []
    for day, route in enumerate(solution.routes):
        schedule = schedule_day(
            day,
            route,
            candidates,
            hops,
            rules,
            solution.meal_hints[day],
            solution.starts[day],
        )
        if schedule is None:
            names = ", ".join(repr(candidates[i].place.name) for i in route)
            raise TooManyMustVisitsError(
                f"day {day + 1}: meals cannot be fitted around the must-visit places {names}"
            )
        schedules.append(schedule)
    return schedules


def _assemble(
    schedules: list[DaySchedule],
    candidates: list[Candidate],
    trip: TripRequest,
    solution: RouteSolution,
    candidates_total: int,
    started: float,
    travel_cost_per_min: int,
) -> Itinerary:
    days = tuple(_day_plan(s, candidates, trip.start_date) for s in schedules)
    dropped = tuple(candidates[i].place.id for s in schedules for i in s.dropped)
    all_visits = tuple(v for d in days for v in d.visits)
    all_legs = tuple(leg for d in days for leg in d.legs)
    totals = _totals(all_visits, all_legs)
    score = totals.prize - totals.travel_minutes * travel_cost_per_min / PRIZE_UNITS
    return Itinerary(
        days=days,
        totals=totals,
        objective=solution.objective,
        score=round(score, 3),
        status=solution.status,
        solve_ms=round((time.perf_counter() - started) * 1000, 1),
        candidates_total=candidates_total,
        candidates_considered=len(candidates),
        repaired_visits=dropped,
    )


def _day_plan(schedule: DaySchedule, candidates: list[Candidate], start_date: date) -> DayPlan:
    """One scheduled day as output: trip minutes become datetimes, nodes become place ids."""
    at = partial(to_datetime, start_date)
    visits = _visits(schedule, candidates, at)
    legs = _legs(schedule, candidates, at)
    return DayPlan(
        day=schedule.day + 1,
        date=start_date + timedelta(days=schedule.day),
        weekday=weekday_of(start_date, schedule.day),
        depart_lodging=at(schedule.depart_lodging),
        return_lodging=at(schedule.return_lodging),
        visits=visits,
        legs=legs,
        meals=_meals(schedule, candidates, at),
        totals=_totals(visits, legs),
    )


def _visits(
    schedule: DaySchedule, candidates: list[Candidate], at: Callable[[int], datetime]
) -> tuple[Visit, ...]:
    return tuple(
        Visit(
            place_id=c.place.id,
            name=c.place.name,
            category=c.place.category,
            arrival=at(v.arrival),
            start=at(v.start),
            departure=at(v.departure),
            duration_min=c.place.visit_duration_min,
            prize=round(c.prize_points, 3),
            must_visit=c.must_visit,
            reason=c.reason,
        )
        for v in schedule.visits
        for c in (candidates[v.candidate],)
    )


def _legs(
    schedule: DaySchedule, candidates: list[Candidate], at: Callable[[int], datetime]
) -> tuple[Leg, ...]:
    return tuple(
        Leg(
            from_id=_node_id(leg.from_node, candidates),
            to_id=_node_id(leg.to_node, candidates),
            depart=at(leg.depart),
            arrive=at(leg.arrive),
            minutes=leg.hop.minutes,
            km=leg.hop.km,
            mode=leg.hop.mode,
        )
        for leg in schedule.legs
    )


def _meals(
    schedule: DaySchedule, candidates: list[Candidate], at: Callable[[int], datetime]
) -> tuple[Meal, ...]:
    return tuple(
        Meal(
            kind=m.slot.kind,
            start=at(m.start),
            end=at(m.start + m.slot.duration),
            near_id=_node_id(m.near_node, candidates),
        )
        for m in schedule.meals
    )


def _node_id(node: int, candidates: list[Candidate]) -> str:
    """Node 0 is the lodging; node n is candidate n - 1."""
    return LODGING_ID if node == 0 else candidates[node - 1].place.id


def _totals(visits: tuple[Visit, ...], legs: tuple[Leg, ...]) -> Totals:
    return Totals(
        visits=len(visits),
        travel_minutes=sum(leg.minutes for leg in legs),
        travel_km=round(sum(leg.km for leg in legs), 2),
        prize=round(sum(v.prize for v in visits), 3),
    )

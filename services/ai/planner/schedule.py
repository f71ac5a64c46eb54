"""Exact times for one day, given the solver's order of visits.

The solver fixes *which* places and in *what order*; this module fixes *when*, with meals laid out
so that no travel leg is cut in two (OR-Tools breaks may interrupt a leg; a traveller would not).
A meal sits at a "position" on the day's timeline: position 2g is at stop g before leaving for
stop g + 1 (stop 0 is the lodging), position 2g + 1 is on arrival at stop g + 1, before its visit.
For a fixed order and fixed meal positions, starting every event as early as possible is optimal
for feasibility (waiting is always allowed), so one forward pass decides each layout. We try the
positions around the solver's own meal times first, then every layout, and keep the one that
ends the day earliest (then: spends the least time out). If none fits, the day's lowest-prize
optional visit is dropped.

Times here are trip minutes (day d, minute m → d·1440 + m); candidate windows are minutes after
midnight of their day.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.ai.planner.candidates import Candidate
from services.ai.planner.hours import DAY, DayRules, MealSlot
from services.ai.planner.models import MealKind
from services.ai.planner.travel import Hop


@dataclass(frozen=True, slots=True)
class TimedVisit:
    candidate: int  # index into the candidate list
    arrival: int  # trip minutes
    start: int
    departure: int


@dataclass(frozen=True, slots=True)
class TimedLeg:
    from_node: int  # matrix node: 0 = lodging, i + 1 = candidate i
    to_node: int
    depart: int
    arrive: int
    hop: Hop


@dataclass(frozen=True, slots=True)
class TimedMeal:
    slot: MealSlot
    start: int
    near_node: int


@dataclass(frozen=True, slots=True)
class DaySchedule:
    day: int
    depart_lodging: int
    return_lodging: int
    visits: tuple[TimedVisit, ...]
    legs: tuple[TimedLeg, ...]
    meals: tuple[TimedMeal, ...]
    dropped: tuple[int, ...] = ()  # candidates the solver chose but no layout could keep


def _earliest_start(windows: tuple[tuple[int, int], ...], t: int) -> int | None:
    for lo, hi in windows:
        if t <= hi:
            return max(t, lo)
    return None


def _forward(
    day: int,
    route: tuple[int, ...],
    candidates: list[Candidate],
    hops: list[list[Hop]],
    rules: DayRules,
    positions: tuple[int, ...],
) -> DaySchedule | None:
    """Earliest-start layout of one day for fixed meal positions, or None if infeasible."""
    base = day * DAY
    nodes = [0, *(c + 1 for c in route), 0]
    t = base + rules.day_start
    visits: list[TimedVisit] = []
    legs: list[TimedLeg] = []
    meals: list[TimedMeal] = []

    def eat_at(position: int, now: int, near: int) -> int | None:
        for slot, pos in zip(rules.slots, positions, strict=True):
            if pos != position:
                continue
            start = max(now, base + slot.earliest)
            if start > base + slot.latest_start:
                return None
            meals.append(TimedMeal(slot, start, near))
            now = start + slot.duration
        return now

    for g in range(len(nodes) - 1):
        here, there = nodes[g], nodes[g + 1]
        after_meal = eat_at(2 * g, t, here)
        if after_meal is None:
            return None
        t = after_meal
        if route:  # an empty day has no legs
            hop = hops[here][there]
            legs.append(TimedLeg(here, there, t, t + hop.minutes, hop))
            t += hop.minutes
        arrival = t
        after_meal = eat_at(2 * g + 1, t, there)
        if after_meal is None:
            return None
        t = after_meal
        if g + 1 < len(nodes) - 1:
            cand = candidates[there - 1]
            start = _earliest_start(cand.day_windows[day], t - base)
            if start is None:
                return None
            start += base
            t = start + cand.place.visit_duration_min
            visits.append(TimedVisit(there - 1, arrival, start, t))
    if legs and legs[-1].arrive > base + rules.day_end:
        return None
    return _compress_morning(day, visits, legs, meals, base + rules.day_start)


def _compress_morning(
    day: int,
    visits: list[TimedVisit],
    legs: list[TimedLeg],
    meals: list[TimedMeal],
    day_open: int,
) -> DaySchedule:
    """Leave the lodging as late as the first visit allows, instead of waiting at its door:
    everything before the first visit (meals at the lodging, the first leg, meals on arrival)
    is pushed back against it. Each event only moves later, so windows still hold."""
    if not visits:
        return DaySchedule(day, day_open, day_open, (), (), tuple(meals))
    first = visits[0]
    early = [m for m in meals if m.start < first.start]
    later = [m for m in meals if m.start >= first.start]
    moved: list[TimedMeal] = []
    latest = first.start
    for meal in reversed([m for m in early if m.near_node != 0]):  # on arrival
        start = min(latest - meal.slot.duration, day * DAY + meal.slot.latest_start)
        moved.append(TimedMeal(meal.slot, start, meal.near_node))
        latest = start
    leg = legs[0]
    first_leg = TimedLeg(leg.from_node, leg.to_node, latest - leg.hop.minutes, latest, leg.hop)
    first_visit = TimedVisit(first.candidate, latest, first.start, first.departure)
    depart = first_leg.depart
    for meal in reversed([m for m in early if m.near_node == 0]):  # before leaving
        start = min(depart - meal.slot.duration, day * DAY + meal.slot.latest_start)
        moved.append(TimedMeal(meal.slot, start, meal.near_node))
        depart = start
    return DaySchedule(
        day=day,
        depart_lodging=depart,
        return_lodging=legs[-1].arrive,
        visits=(first_visit, *visits[1:]),
        legs=(first_leg, *legs[1:]),
        meals=tuple(sorted(moved + later, key=lambda m: m.start)),
    )


def best_layout(
    day: int,
    route: tuple[int, ...],
    candidates: list[Candidate],
    hops: list[list[Hop]],
    rules: DayRules,
    hints: Mapping[MealKind, int] | None = None,
    solver_starts: tuple[int, ...] = (),
) -> DaySchedule | None:
    """The feasible layout of `route` that returns earliest, or None. `hints` (the solver's
    break starts) and `solver_starts` (its visit starts, same clock) only order the search."""
    slots = rules.slots
    n_positions = 2 * len(route) + 2

    def gap_of(moment: int) -> int:
        return sum(1 for s in solver_starts if s <= moment)

    every = (
        p for p in itertools.product(range(n_positions), repeat=len(slots)) if list(p) == sorted(p)
    )
    preferred: list[tuple[int, ...]] = []  # tried first, then all of `every` (lazily)
    if hints and all(s.kind in hints for s in slots):
        # both sides of the leg in the gap where the solver put each break, and the gaps next
        # to it (a meal one stop earlier or later often saves waiting)
        around = [2 * gap_of(hints[s.kind]) for s in slots]
        options = [range(max(0, g - 2), min(n_positions, g + 4)) for g in around]
        preferred = [p for p in itertools.product(*options) if list(p) == sorted(p)]
    layouts: Iterable[tuple[int, ...]]
    for layouts in (preferred, every):
        best: DaySchedule | None = None
        for positions in layouts:
            layout = _forward(day, route, candidates, hops, rules, positions)
            if layout is not None and (best is None or _shorter(layout, best)):
                best = layout
        if best is not None:
            return best
    return None


def _shorter(a: DaySchedule, b: DaySchedule) -> bool:
    """Back at the lodging earlier, then out for less time (less waiting)."""
    return (a.return_lodging, a.return_lodging - a.depart_lodging) < (
        b.return_lodging,
        b.return_lodging - b.depart_lodging,
    )


def schedule_day(
    day: int,
    route: tuple[int, ...],
    candidates: list[Candidate],
    hops: list[list[Hop]],
    rules: DayRules,
    hints: Mapping[MealKind, int],
    solver_starts: tuple[int, ...],
) -> DaySchedule | None:
    """Lay out one day; drops optional visits (lowest prize first) only if no layout fits.
    Returns None when even the must-visits alone cannot be laid out."""
    dropped: list[int] = []
    current, starts = route, solver_starts
    while True:
        layout = best_layout(day, current, candidates, hops, rules, hints, starts)
        if layout is not None:
            return DaySchedule(
                layout.day,
                layout.depart_lodging,
                layout.return_lodging,
                layout.visits,
                layout.legs,
                layout.meals,
                tuple(dropped),
            )
        optional = [i for i in current if not candidates[i].must_visit]
        if not optional:
            return None
        worst = min(optional, key=lambda i: (candidates[i].prize_units, candidates[i].place.id))
        dropped.append(worst)
        keep = [k for k, i in enumerate(current) if i != worst]
        # the solver's starts only order the layout search; without them all layouts are tried
        starts = tuple(starts[k] for k in keep) if len(starts) == len(current) else ()
        current = tuple(current[k] for k in keep)


def fits_alone(candidate: Candidate, day: int, rules: DayRules) -> bool:
    """Can the day consist of this one visit (with its meals)? Exact: every meal layout."""
    here = Hop(0, 0.0, "walk")
    hops = [[here, candidate.from_lodging], [candidate.to_lodging, here]]
    return best_layout(day, (0,), [candidate], hops, rules) is not None

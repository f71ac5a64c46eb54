"""A greedy first solution, built in Python and handed to OR-Tools as the search's start.

Why not an OR-Tools first-solution strategy? With vehicle breaks (our meals) the filtered
heuristics sometimes build a solution the constraint propagation then rejects, and the search
returns the all-unperformed fallback after spending the whole time limit. Measured on this model
(ortools 9.15, hole-free windows): over 40 seeded random trips PARALLEL_CHEAPEST_INSERTION left
one trip empty and dropped a must-visit that fits in another, PATH_CHEAPEST_ARC dropped a
fitting must-visit elsewhere, and LOCAL_CHEAPEST_INSERTION returned empty plans on 2 of 16 fixed
trips. A seed that is feasible by construction avoids all of it: local search only improves on
it, and must-visits, inserted first, are never traded away (their penalty exceeds everything
else). With the seed: no search failure and no must-visit dropped by the search over 400
random trips (the property-test generator, seeds 1000-1399).

The feasibility test is the scheduler's rule with a greedy meal rule (eat at the first stop
inside the meal window, or earlier if the next activity would end past the meal's latest
start), so a seed route is always one that schedule.py can lay out with unbroken travel legs.
"""

from __future__ import annotations

import random
from itertools import pairwise

from services.ai.planner.candidates import Candidate
from services.ai.planner.hours import DayRules


def _earliest(windows: tuple[tuple[int, int], ...], t: int) -> int | None:
    for lo, hi in windows:
        if t <= hi:
            return max(t, lo)
    return None


def route_starts(
    day: int,
    route: list[int],
    candidates: list[Candidate],
    minutes: list[list[int]],
    rules: DayRules,
) -> list[int] | None:
    """Visit starts (minutes after midnight) of `route` on `day`, or None if it does not fit."""
    t = rules.day_start
    pending = list(rules.slots)
    starts: list[int] = []
    prev = 0

    def eat(now: int, next_end: int) -> int | None:
        while pending and (now >= pending[0].earliest or next_end > pending[0].latest_start):
            slot = pending.pop(0)
            begin = max(now, slot.earliest)
            if begin > slot.latest_start:
                return None
            now = begin + slot.duration
        return now

    for cand_index in route:
        node = cand_index + 1
        cand = candidates[cand_index]
        leg = minutes[prev][node]
        after = eat(t, t + leg)
        if after is None:
            return None
        t = after + leg
        start = _earliest(cand.day_windows[day], t)
        if start is None:
            return None
        after = eat(t, start + cand.place.visit_duration_min)
        if after is None:
            return None
        if after != t:  # ate: the visit may now start later
            start = _earliest(cand.day_windows[day], after)
            if start is None:
                return None
        starts.append(start)
        t = start + cand.place.visit_duration_min
        prev = node
    leg = minutes[prev][0]
    after = eat(t, t + leg)
    if after is None:
        return None
    t = after + leg
    if t > rules.day_end:
        return None
    for slot in pending:  # the rest at the lodging, after the return
        begin = max(t, slot.earliest)
        if begin > slot.latest_start:
            return None
        t = begin + slot.duration
    return starts


def seed_value(
    routes: list[list[int]],
    candidates: list[Candidate],
    minutes: list[list[int]],
    cost_per_min: int,
) -> int:
    """Prize collected minus travel cost, in solver units (higher is better)."""
    value = 0
    for route in routes:
        stops = [0, *(c + 1 for c in route), 0]
        value += sum(candidates[c].prize_units for c in route)
        value -= cost_per_min * sum(minutes[a][b] for a, b in pairwise(stops))
    return value


def greedy_seeds(
    candidates: list[Candidate],
    minutes: list[list[int]],
    days: int,
    rules: DayRules,
    cost_per_min: int,
    *,
    shuffle: int | None = None,
) -> list[list[list[int]]]:
    """Greedy first solutions, the best (by `seed_value`) first: by prize, and by prize per
    minute of visit and of travel from the lodging. Neither wins everywhere (long visits of high
    prize block a day's slots), and neither does the local search that starts from each
    (solver.py descends from both).
    `shuffle`: one random order instead (must-visits still first), from that random seed."""

    def must_first(i: int) -> tuple[bool, int]:
        cand = candidates[i]
        # must-visits first, the least flexible (fewest open days) first
        return (not cand.must_visit, len(cand.open_days) if cand.must_visit else 0)

    indexes = range(len(candidates))
    if shuffle is not None:
        order = list(indexes)
        random.Random(shuffle).shuffle(order)
        order.sort(key=must_first)  # stable: the shuffled order within each group
        return [greedy_routes(order, candidates, minutes, days, rules)]
    by_prize = sorted(
        indexes, key=lambda i: (*must_first(i), -candidates[i].prize_points, candidates[i].place.id)
    )
    by_rate = sorted(
        indexes,
        key=lambda i: (
            *must_first(i),
            -candidates[i].prize_points
            / (candidates[i].place.visit_duration_min + candidates[i].from_lodging.minutes),
            candidates[i].place.id,
        ),
    )
    seeds = [
        greedy_routes(order, candidates, minutes, days, rules) for order in (by_prize, by_rate)
    ]
    distinct = [seed for k, seed in enumerate(seeds) if seed not in seeds[:k]]
    # (stable: on a tie the by-prize seed stays first)
    return sorted(distinct, key=lambda r: -seed_value(r, candidates, minutes, cost_per_min))


def greedy_routes(
    order: list[int],
    candidates: list[Candidate],
    minutes: list[list[int]],
    days: int,
    rules: DayRules,
) -> list[list[int]]:
    """Cheapest feasible insertion of each candidate in `order` (must-visits first)."""
    routes: list[list[int]] = [[] for _ in range(days)]
    for ci in order:
        node = ci + 1
        best: tuple[int, int, int] | None = None  # (extra minutes, day, position)
        for day in candidates[ci].open_days:
            route = routes[day]
            if len(route) >= rules.max_visits:
                continue
            stops = [0, *(c + 1 for c in route), 0]
            for pos in range(len(route) + 1):
                a, b = stops[pos], stops[pos + 1]
                extra = minutes[a][node] + minutes[node][b] - minutes[a][b]
                if best is not None and extra >= best[0]:
                    continue
                trial = [*route[:pos], ci, *route[pos:]]
                if route_starts(day, trial, candidates, minutes, rules) is not None:
                    best = (extra, day, pos)
        if best is not None:
            _, day, pos = best
            routes[day].insert(pos, ci)
    return routes

"""The OR-Tools model: a prize-collecting VRP with time windows, days as vehicles.

Clock: one time dimension in minutes after midnight, the same for every vehicle; vehicle d (trip
day d) starts and ends at the lodging within the daily window. What differs per day is handled
by *which vehicles* may serve a node (`VehicleVar(i).SetValues([-1, *days])`, -1 = unvisited)
and by *node copies*: a place gets one node per distinct visit-start window, i.e. per opening
interval and per group of days that share the same hours (a restaurant with a lunch closure is
two nodes; a museum open late on Fridays is one node for Fridays, one for the other days). The
copies of a place form one disjunction with max cardinality 1, so a place is visited at most
once and, when left out, costs its prize. Every node therefore has a single contiguous window.

Why not one node whose cumul domain is the union of its windows (RemoveInterval on the gaps, or
day d at d·1440 + minutes)? Measured with ortools 9.15: domain holes together with vehicle breaks
make the first-solution heuristics fail outright (PATH_CHEAPEST_ARC 10-12 of 12 seeded instances,
PARALLEL_CHEAPEST_INSERTION 5 of 12 returned the all-unperformed fallback), whereas either one
alone is fine; the copies keep the model hole-free.

The search starts from greedy seeds built in Python (seed.py) rather than from an OR-Tools
first-solution strategy: a local search (greedy descent) from each of the two greedy seeds, under
one deadline and a stall rule, and the better of the two local optima is the answer.

Meals are vehicle breaks (FixedDurationIntervalVar per day, start range = the meal window) on
the time dimension: a break may not overlap a visit, so the solver must leave room for lunch and
dinner. OR-Tools lets a break interrupt a travel leg; schedule.py later lays meals out so that
legs stay whole (and repairs the rare plan where that is impossible).

Must-visits get a penalty larger than all other prizes and all travel together, instead of no
disjunction: the solver then never trades one away when it fits, and when the set cannot fit it
still returns a plan that names the ones it had to drop — instead of an opaque ROUTING_FAIL.
Pace is a count dimension (each visit counts 1, the lodging 0, capacity = visits a day).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from services.ai.planner.candidates import Candidate
from services.ai.planner.hours import day_rules, day_window, meal_slots
from services.ai.planner.models import MealKind, TripRequest
from services.ai.planner.seed import greedy_seeds, route_starts, seed_value

# The default deadline for the whole plan_itinerary call up to the search's end (candidates,
# matrix, model, seed and search; the scheduler and the checker add a few ms). ai-service ships
# its own (`planner_time_limit_s` in services/ai/settings.py, the chart's PLANNER_TIME_LIMIT_S);
# the deadline is a cap: a search normally ends earlier, at its local optimum or on the stall
# rule below.
DEFAULT_TIME_LIMIT_S = 1.0
# A further start is begun only with at least this much of the deadline left.
MIN_START_S = 0.05
# The LNS time limit also bounds the solution finalizer (it places the meals and sets the
# times of every neighbour the search tries, and of the seed when it is read in), whose work
# grows with the days: a 20-day trip's seed needed 3-5 ms. So the limit is at least this much a
# day (measured thresholds 0.1-0.25 ms a day), and a start whose seed could not be read in
# under it is searched again under OR-Tools' default (a busy machine can stretch a few ms).
LNS_S_PER_DAY = 0.0003
FALLBACK_LNS_S = 0.1


@dataclass(frozen=True, slots=True)
class SolverOptions:
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    # The anytime stop: end a start's search once it has run this many CPU-seconds (this thread's,
    # so a search that is descheduled on a busy machine is not cut short) without a significant
    # gain. None = search until the time limit. A greedy descent normally ends before this, at
    # its local optimum; the rule bounds a long tail and the guided local search of reference runs.
    stall_s: float | None = 0.08
    # A gain restarts the stall clock once the score has risen by this share of the greedy
    # seed's score (prize − travel cost) since the last restart; small steps add up.
    min_gain: float = 0.005
    # Stop after this many CPU-seconds of search whatever the progress (None = no such cap): the
    # benchmark's long reference runs use it so that their length does not depend on the load.
    cpu_limit_s: float | None = None
    # Deterministic stop: at most this many solutions per start (each accepted move counts).
    solution_limit: int | None = None
    # Greedy seed order: None = descend from each of the greedy seeds (by prize, by prize per
    # minute; at most `starts` of them, the better seed first); an int = one shuffled order from
    # that random seed (different starting points for reference runs).
    seed_shuffle: int | None = None
    # Local searches from different greedy seeds; the better result wins. On 30 trips of 1-5
    # days (`nox -s bench-planner-search`, n = 60): one start 0.976 of the best known on average
    # (worst 0.814), two starts 0.989 (worst 0.939), for 51 → 86 ms of CPU on average.
    starts: int = 2
    # A later search is begun only when the first one used less than this much CPU (None = always;
    # not applied with `solution_limit`). The second start pays most on short trips, where it is
    # cheap; on 5- and 7-day trips a first descent can take 0.3-0.6 s, and a second one doubled
    # the planner benchmark's CPU p95 (5 days 322 → 628 ms, 7 days 742 → 1,011 ms, n = 20 each).
    later_start_below_s: float | None = 0.15
    # Used only if OR-Tools rejected our greedy seed (seed.py), which has not happened.
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    # Greedy descent: on those 30 trips guided local search past the local optimum gained
    # nothing within the stall rule (same scores) for ~2.5 × the CPU.
    metaheuristic: str = "GREEDY_DESCENT"
    # OR-Tools' LNS time limit (default 0.1 s), at least `LNS_S_PER_DAY` × days. It caps each
    # large-neighbourhood operator and each try to place a neighbour's meals. At the default
    # some neighbours ran into the cap one after the other, so a search went 0.4 s without a
    # new solution and the stall rule ended it far from its local optimum (0.87 of the best
    # known on a 4-day trip; 0.98 on average). At a few ms the descent reaches its local
    # optimum. 2 ms cost the same CPU as 5 ms, but it is wall time: on a loaded machine a
    # preempted try ran past it, and 3 of 200 pairs of runs of one small request differed
    # (0 of 200 at 3 and 5 ms); 10 ms cost more CPU for nothing.
    lns_time_limit_s: float = 0.005
    # Objective units per travel minute (a prize point is 1000 units): 30 min of travel ≈ 0.24
    # prize points, enough to prefer compact days without giving up clearly better places.
    travel_cost_per_min: int = 8
    # Pre-filter: K = clamp(days × visits a day × factor, floor, ceiling).
    candidate_factor: float = 3.0
    candidate_floor: int = 30
    candidate_ceiling: int = 240


@dataclass(frozen=True, slots=True)
class RouteSolution:
    routes: tuple[tuple[int, ...], ...]  # per day: indexes into the candidate list, in order
    starts: tuple[tuple[int, ...], ...]  # per day: the solver's visit starts (min after midnight)
    meal_hints: tuple[dict[MealKind, int], ...]  # per day: the solver's break starts (same clock)
    objective: int
    status: str
    solutions: int
    dropped_must: tuple[int, ...] = field(default=())


def _status_name(code: int) -> str:
    return routing_enums_pb2.RoutingSearchStatus.Value.Name(code)


@dataclass(frozen=True, slots=True)
class _Node:
    candidate: int
    lo: int  # visit-start window, minutes after midnight
    hi: int
    days: tuple[int, ...]


def _nodes(candidates: list[Candidate]) -> list[_Node]:
    nodes: list[_Node] = []
    for ci, cand in enumerate(candidates):
        days_by_windows: dict[tuple[tuple[int, int], ...], list[int]] = {}
        for day, windows in enumerate(cand.day_windows):
            if windows:
                days_by_windows.setdefault(windows, []).append(day)
        for windows, days in days_by_windows.items():
            nodes.extend(_Node(ci, lo, hi, tuple(days)) for lo, hi in windows)
    return nodes


@dataclass(slots=True)
class _Model:
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time_dim: pywrapcp.RoutingDimension
    breaks: list[list[tuple[MealKind, pywrapcp.IntervalVar]]]  # per day


def solve(
    candidates: list[Candidate],
    minutes: list[list[int]],
    trip: TripRequest,
    options: SolverOptions,
) -> RouteSolution | None:
    """Solve; `minutes` is the travel matrix with the lodging at index 0 and candidate i at
    i + 1. Returns None when no solution was found in the time limit."""
    started = time.perf_counter()
    nodes = _nodes(candidates)
    model = _build(candidates, nodes, minutes, trip, options)
    seeds = _seeds(nodes, candidates, minutes, trip, model.manager, options)
    search = _Search(model, options, trip.days, started)
    best: RouteSolution | None = None
    first_cpu_s = 0.0
    for k, (seed_routes, seed_units) in enumerate(seeds[: max(1, options.starts)]):
        if k and not _another_search(options, started, first_cpu_s, search.deterministic):
            break
        cpu_started = time.thread_time()
        assignment = search.descend(seed_routes, seed_units)
        if k == 0:
            first_cpu_s = time.thread_time() - cpu_started
        if assignment is None:
            continue
        # (read now: the next search reuses the model's assignment)
        found = _extract(model, assignment, nodes, candidates, trip.days)
        if best is None or found.objective < best.objective:
            best = found
    return None if best is None else replace(best, solutions=search.solutions)


class _Search:
    """The searches on one closed model: their parameters, their stop rules, and a local search
    from a seed (under the short LNS limit, and again under OR-Tools' default if the seed could
    not be read in under it)."""

    def __init__(self, model: _Model, options: SolverOptions, days: int, started: float) -> None:
        self.routing = model.routing
        self.options = options
        self.started = started
        self.deterministic = options.solution_limit is not None
        # (a deterministic search keeps OR-Tools' default: a few ms is a clock a busy machine hits)
        self.lns_s = (
            FALLBACK_LNS_S
            if self.deterministic
            else max(options.lns_time_limit_s, LNS_S_PER_DAY * days)
        )
        self.progress: list[_Progress] = []  # one per search: each has its own stall clock
        self.params = pywrapcp.DefaultRoutingSearchParameters()
        self.params.first_solution_strategy = getattr(
            routing_enums_pb2.FirstSolutionStrategy, options.first_solution
        )
        self.params.local_search_metaheuristic = getattr(
            routing_enums_pb2.LocalSearchMetaheuristic, options.metaheuristic
        )
        if options.solution_limit is not None:
            self.params.solution_limit = options.solution_limit
        self.params.log_search = bool(os.environ.get("TRIPGEN_PLANNER_LOG_SEARCH"))
        self.routing.AddAtSolutionCallback(self._on_solution)
        self._limit(self.lns_s)
        self.routing.CloseModelWithParameters(self.params)

    @property
    def solutions(self) -> int:
        return sum(p.count for p in self.progress)

    def descend(self, seed_routes: list[list[int]], seed_units: int) -> Any:
        """The best assignment found from this seed, or None."""
        assignment = self._search(seed_routes, seed_units, self.lns_s)
        if assignment is None and self.lns_s < FALLBACK_LNS_S:
            assignment = self._search(seed_routes, seed_units, FALLBACK_LNS_S)
        return assignment

    def _search(self, seed_routes: list[list[int]], seed_units: int, lns_s: float) -> Any:
        self._limit(lns_s)
        min_gain = max(1, int(self.options.min_gain * abs(seed_units)))
        self.progress.append(_Progress(self.options.stall_s, min_gain, self.options.cpu_limit_s))
        initial = self.routing.ReadAssignmentFromRoutes(seed_routes, True)
        if initial is None:  # never seen (the seed is feasible by construction)
            return self.routing.SolveWithParameters(self.params)  # OR-Tools' own start instead
        return self.routing.SolveFromAssignmentWithParameters(initial, self.params)

    def _limit(self, lns_s: float) -> None:
        left = self.options.time_limit_s - (time.perf_counter() - self.started)
        self.params.time_limit.FromMilliseconds(max(10, int(left * 1000)))
        self.params.lns_time_limit.FromMicroseconds(max(100, round(lns_s * 1e6)))

    def _on_solution(self) -> None:
        # The stop rules are checked here, once per solution (every few ms), not in a
        # solver.CustomLimit: that Python callback runs ~150 000 times a second and cost a
        # quarter of the search's throughput.
        if self.progress[-1].record(self.routing.CostVar().Value()):
            self.routing.solver().FinishCurrentSearch()


def _another_search(
    options: SolverOptions, started: float, first_cpu_s: float, deterministic: bool
) -> bool:
    """Whether a later search is begun: time is left, and (unless the search is deterministic,
    which never stops on a clock) the first one was cheap enough."""
    if time.perf_counter() - started > options.time_limit_s - MIN_START_S:
        return False
    limit = options.later_start_below_s
    return deterministic or limit is None or first_cpu_s < limit


def _build(
    candidates: list[Candidate],
    nodes: list[_Node],
    minutes: list[list[int]],
    trip: TripRequest,
    options: SolverOptions,
) -> _Model:
    # matrix position of each routing node: 0 = lodging, k + 1 = nodes[k]
    at = [0] + [n.candidate + 1 for n in nodes]
    service = [0] + [candidates[n.candidate].place.visit_duration_min for n in nodes]
    n_nodes = len(at)
    days = trip.days
    ws, we = day_window(trip)

    manager = pywrapcp.RoutingIndexManager(n_nodes, days, 0)
    routing = pywrapcp.RoutingModel(manager)

    # Native matrices (no Python callback per arc: the search evaluates millions of arcs).
    travel = [[minutes[a][b] for b in at] for a in at]
    time_matrix = [[service[i] + travel[i][j] for j in range(n_nodes)] for i in range(n_nodes)]
    cost_matrix = [[m * options.travel_cost_per_min for m in row] for row in travel]
    time_cb = routing.RegisterTransitMatrix(time_matrix)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(cost_matrix))

    # Slack (waiting, meals) up to the whole day; cumul = minutes after midnight.
    routing.AddDimension(time_cb, we - ws, we, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for v in range(days):
        for index in (routing.Start(v), routing.End(v)):
            time_dim.CumulVar(index).SetRange(ws, we)

    must_penalty = sum(c.prize_units for c in candidates) + options.travel_cost_per_min * (
        days * (we - ws) + 1
    )
    copies: dict[int, list[int]] = {}
    for k, node in enumerate(nodes):
        index = manager.NodeToIndex(k + 1)
        time_dim.CumulVar(index).SetRange(node.lo, node.hi)
        # (SetAllowedVehiclesForIndex's Python binding rejects every list in ortools 9.15:
        # "argument 2 of type absl::Span<int const>"; restricting VehicleVar is equivalent.)
        routing.VehicleVar(index).SetValues([-1, *node.days])
        copies.setdefault(node.candidate, []).append(index)
    for ci, indexes in copies.items():
        cand = candidates[ci]
        penalty = must_penalty if cand.must_visit else cand.prize_units
        routing.AddDisjunction(indexes, penalty, 1)

    # Pace: visits per day ≤ max (the lodging counts 0).
    count_cb = routing.RegisterUnaryTransitVector([0] + [1] * len(nodes))
    routing.AddDimension(count_cb, 0, trip.max_visits, True, "visits")

    # Meals: one break per meal and day; a break may not overlap a visit (its service time).
    slots = meal_slots(trip)
    visit_transits = [service[manager.IndexToNode(i)] for i in range(routing.Size())]
    breaks: list[list[tuple[MealKind, pywrapcp.IntervalVar]]] = []
    for v in range(days):
        day_breaks = [
            (
                slot.kind,
                routing.solver().FixedDurationIntervalVar(
                    slot.earliest, slot.latest_start, slot.duration, False, f"{slot.kind}-{v}"
                ),
            )
            for slot in slots
        ]
        if day_breaks:
            time_dim.SetBreakIntervalsOfVehicle([b for _, b in day_breaks], v, visit_transits)
        breaks.append(day_breaks)
    return _Model(manager, routing, time_dim, breaks)


def _extract(
    model: _Model,
    assignment: pywrapcp.Assignment,
    nodes: list[_Node],
    candidates: list[Candidate],
    days: int,
) -> RouteSolution:
    routing, manager = model.routing, model.manager
    routes: list[tuple[int, ...]] = []
    starts: list[tuple[int, ...]] = []
    hints: list[dict[MealKind, int]] = []
    visited: set[int] = set()
    for v in range(days):
        route: list[int] = []
        route_starts: list[int] = []
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            route.append(nodes[manager.IndexToNode(index) - 1].candidate)
            route_starts.append(assignment.Value(model.time_dim.CumulVar(index)))
            index = assignment.Value(routing.NextVar(index))
        routes.append(tuple(route))
        starts.append(tuple(route_starts))
        visited.update(route)
        # (only registered breaks are in the assignment; an empty list reads nothing)
        hints.append({kind: assignment.StartValue(brk) for kind, brk in model.breaks[v]})
    dropped = tuple(i for i, c in enumerate(candidates) if c.must_visit and i not in visited)
    return RouteSolution(
        routes=tuple(routes),
        starts=tuple(starts),
        meal_hints=tuple(hints),
        objective=assignment.ObjectiveValue(),
        status=_status_name(routing.status()),
        solutions=0,  # set by solve(), over every search
        dropped_must=dropped,
    )


def _seeds(
    nodes: list[_Node],
    candidates: list[Candidate],
    minutes: list[list[int]],
    trip: TripRequest,
    manager: pywrapcp.RoutingIndexManager,
    options: SolverOptions,
) -> list[tuple[list[list[int]], int]]:
    """The greedy seeds, the best first, as routing indexes (each visit mapped to the copy whose
    window holds the seed's start time on that day) with their values (prize − travel cost,
    solver units)."""
    rules = day_rules(trip)
    copies: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for k, node in enumerate(nodes):
        for day in node.days:
            copies.setdefault((node.candidate, day), []).append(
                (node.lo, node.hi, manager.NodeToIndex(k + 1))
            )
    seeds: list[tuple[list[list[int]], int]] = []
    for routes in greedy_seeds(
        candidates,
        minutes,
        trip.days,
        rules,
        options.travel_cost_per_min,
        shuffle=options.seed_shuffle,
    ):
        seeded: list[list[int]] = []
        for day, route in enumerate(routes):
            starts = route_starts(day, route, candidates, minutes, rules) or []
            seeded.append(
                [
                    next(ix for lo, hi, ix in copies[(ci, day)] if lo <= start <= hi)
                    for ci, start in zip(route, starts, strict=True)
                ]
            )
        value = seed_value(routes, candidates, minutes, options.travel_cost_per_min)
        seeds.append((seeded, value))
    return seeds


class _Progress:
    """Counts solutions and decides when the search has stalled: the best objective has not
    gained `min_gain_units` in all (small gains add up) over the last `stall_s` CPU-seconds of
    this thread, or the search has used `cpu_limit_s`."""

    def __init__(
        self, stall_s: float | None, min_gain_units: int = 1, cpu_limit_s: float | None = None
    ) -> None:
        self.stall_s = stall_s
        self.min_gain_units = min_gain_units
        self.cpu_limit_s = cpu_limit_s
        self.best: int | None = None
        self.anchor: int | None = None  # the best objective when the stall clock last restarted
        self.started = self.last_gain = time.thread_time()
        self.count = 0

    def record(self, objective: int, now: float | None = None) -> bool:
        """Record a solution (`now`: this thread's CPU clock); True when the search should stop."""
        self.count += 1
        now = time.thread_time() if now is None else now
        self.best = objective if self.best is None else min(self.best, objective)
        if self.anchor is None or self.best <= self.anchor - self.min_gain_units:
            self.anchor = self.best
            self.last_gain = now
            return False
        if self.cpu_limit_s is not None and now - self.started >= self.cpu_limit_s:
            return True
        return self.stall_s is not None and now - self.last_gain > self.stall_s

"""The proven optimum of a small planner instance, from OR-Tools CP-SAT: the planner benchmark's
exact quality reference (benchmark only; the service plans with the routing library).

The instance is the planner's own (`solver_inputs`: the pre-filtered candidates, their visit-start
windows per day, the travel matrix, the meals, the pace), so the optimum is what the search could
have found at best. Per day: a circuit over the lodging and the candidates open that day (a
skipped candidate takes its self-loop), visit starts in the candidate's windows, a leg leaving
each visited node after its visit, and the meals as fixed-length intervals in their windows that
overlap neither a visit nor a leg — the scheduler's rule (a meal before or after a leg, at a place
or at the lodging). Each place at most once over the trip; visits a day ≤ the pace. Objective:
prize units − travel cost, the search's own (the score × 1000).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from services.ai.planner.candidates import Candidate
from services.ai.planner.hours import day_rules
from services.ai.planner.models import TripRequest
from services.ai.planner.scoring import PRIZE_UNITS


@dataclass(frozen=True)
class ExactResult:
    status: str  # OPTIMAL (proven), FEASIBLE (time ran out), INFEASIBLE, UNKNOWN
    score: float | None  # prize points − travel cost, as `Itinerary.score`
    bound: float | None  # the best bound CP-SAT proved (= score when OPTIMAL)
    wall_s: float

    @property
    def proven(self) -> bool:
        return self.status == "OPTIMAL"


def _day(
    model: cp_model.CpModel,
    day: int,
    candidates: Sequence[Candidate],
    minutes: Sequence[Sequence[int]],
    trip: TripRequest,
) -> tuple[dict[int, cp_model.IntVar], list[tuple[int, int, cp_model.IntVar]]]:
    """One day's circuit; returns (candidate → visited-that-day literal, arcs (a, b, literal))."""
    rules = day_rules(trip)
    ws, we = rules.day_start, rules.day_end
    open_today = [i for i, c in enumerate(candidates) if c.day_windows[day]]
    nodes = [0, *(i + 1 for i in open_today)]  # matrix indexes
    visited = {i: model.new_bool_var(f"v{day}_{i}") for i in open_today}
    start = {n: model.new_int_var(ws, we, f"s{day}_{n}") for n in nodes}  # 0: departure
    leave = {n: model.new_int_var(ws, we, f"l{day}_{n}") for n in nodes}
    back = model.new_int_var(ws, we, f"back{day}")
    arcs: list[tuple[int, int, cp_model.IntVar]] = []
    circuit: list[tuple[int, int, Any]] = []  # (from, to, literal or its negation)
    out_minutes: dict[int, list[tuple[int, cp_model.IntVar]]] = {n: [] for n in nodes}
    for a in nodes:
        for b in nodes:
            if a == b:
                continue
            lit = model.new_bool_var(f"x{day}_{a}_{b}")
            circuit.append((nodes.index(a), nodes.index(b), lit))
            arcs.append((a, b, lit))
            out_minutes[a].append((minutes[a][b], lit))
            arrive = back if b == 0 else start[b]
            model.add(arrive >= leave[a] + minutes[a][b]).only_enforce_if(lit)
    circuit.append((0, 0, model.new_bool_var(f"empty{day}")))
    intervals = []
    for i in open_today:
        n, cand, lit = i + 1, candidates[i], visited[i]
        circuit.append((nodes.index(n), nodes.index(n), lit.Not()))
        windows = cp_model.Domain.FromIntervals([[lo, hi] for lo, hi in cand.day_windows[day]])
        model.add_linear_expression_in_domain(start[n], windows).only_enforce_if(lit)
        duration = cand.place.visit_duration_min
        model.add(leave[n] >= start[n] + duration).only_enforce_if(lit)
        intervals.append(
            model.new_optional_fixed_size_interval_var(start[n], duration, lit, f"visit{day}_{i}")
        )
    for n in nodes:
        leg = sum(m * lit for m, lit in out_minutes[n])
        presence = True if n == 0 else visited[n - 1]
        size = model.new_int_var(0, we - ws, f"legsize{day}_{n}")
        model.add(size == leg)
        end = model.new_int_var(ws, 2 * we, f"legend{day}_{n}")
        if presence is True:
            intervals.append(model.new_interval_var(leave[n], size, end, f"leg{day}_{n}"))
        else:
            intervals.append(
                model.new_optional_interval_var(leave[n], size, end, presence, f"leg{day}_{n}")
            )
    for slot in rules.slots:
        meal = model.new_int_var(slot.earliest, slot.latest_start, f"{slot.kind}{day}")
        intervals.append(model.new_fixed_size_interval_var(meal, slot.duration, f"m{day}"))
    model.add_no_overlap(intervals)
    model.add_circuit(circuit)
    model.add(sum(visited.values()) <= rules.max_visits)
    return visited, arcs


def exact_optimum(
    candidates: Sequence[Candidate],
    minutes: Sequence[Sequence[int]],
    trip: TripRequest,
    *,
    travel_cost_per_min: int = 8,
    time_limit_s: float = 60.0,
    workers: int = 2,
) -> ExactResult:
    """Maximise prize − travel cost over the instance; OPTIMAL means proven."""
    if any(c.must_visit for c in candidates):
        raise ValueError("the exact reference covers trips without must-visit places")
    model = cp_model.CpModel()
    visits: dict[int, list[cp_model.IntVar]] = {}
    objective = []
    for day in range(trip.days):
        visited, arcs = _day(model, day, candidates, minutes, trip)
        for i, lit in visited.items():
            visits.setdefault(i, []).append(lit)
            objective.append(candidates[i].prize_units * lit)
        objective += [-travel_cost_per_min * minutes[a][b] * lit for a, b, lit in arcs]
    for lits in visits.values():
        model.add_at_most_one(lits)
    model.maximize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(name, None, None, solver.wall_time)
    return ExactResult(
        name,
        round(solver.objective_value / PRIZE_UNITS, 3),
        round(solver.best_objective_bound / PRIZE_UNITS, 3),
        solver.wall_time,
    )

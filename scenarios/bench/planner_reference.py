"""What the planner benchmark measures against: the shipped settings, and the best known score.

* Shipped settings: the time limit ai-service plans with is `planner_time_limit_s` in
  services/ai/settings.py and `services.ai.env.PLANNER_TIME_LIMIT_S` in the chart's values; the
  two must agree (else the benchmark stops: which one ships would be a guess). Every other
  option is the planner's default, as ai-service calls it.
* Best known score of a request: the best of several long runs — guided local search from the
  better of the planner's greedy seeds and from shuffled greedy seeds (different starting
  points), each given `cpu_s` CPU-seconds with no stall stop (a CPU budget, so the reference
  does not weaken on a busy machine) — and of the run being judged.
* Proven optimum (small instances): CP-SAT on the planner's own instance (`scenarios.bench.exact`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from scenarios.bench.exact import ExactResult, exact_optimum
from services.ai.planner.errors import PlanningError
from services.ai.planner.models import Place, TripRequest
from services.ai.planner.planner import plan_itinerary, solver_inputs
from services.ai.planner.solver import SolverOptions
from services.ai.settings import AISettings

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_VALUES = REPO_ROOT / "charts" / "tripgen" / "values.yaml"
REFERENCE_WALL_S = 600.0  # a long run ends on its CPU budget; this only bounds a stuck one
# Small instances for the exact reference: one day, the pre-filter cut to 12-15 candidates.
SMALL_FLOOR, SMALL_FACTOR = 12, 2.0


class ShippedSettingsError(RuntimeError):
    """The service and the chart ship different planner settings."""


def shipped_time_limit(values_file: Path = CHART_VALUES) -> float:
    service = float(AISettings.model_fields["planner_time_limit_s"].default)
    values = yaml.safe_load(values_file.read_text(encoding="utf-8"))
    chart = values["services"]["ai"]["env"]["PLANNER_TIME_LIMIT_S"]
    if float(chart) != service:
        raise ShippedSettingsError(
            f"services/ai/settings.py ships planner_time_limit_s={service:g} but {values_file} "
            f"sets PLANNER_TIME_LIMIT_S={chart}; make them agree before benchmarking"
        )
    return service


def reference_options(cpu_s: float, start: int) -> SolverOptions:
    """Long run number `start`: 0 = the better of the planner's greedy seeds, k > 0 = shuffled
    seed k. Guided local search, which keeps escaping local optima for the whole CPU budget,
    where the planner's greedy descent stops at the first one."""
    return SolverOptions(
        time_limit_s=REFERENCE_WALL_S,
        stall_s=None,
        cpu_limit_s=cpu_s,
        seed_shuffle=None if start == 0 else start,
        starts=1,
        metaheuristic="GUIDED_LOCAL_SEARCH",
    )


def best_known(
    places: Sequence[Place], trip: TripRequest, runs: int, cpu_s: float, *, base: SolverOptions
) -> list[float]:
    """The scores of `runs` long runs (PlanningError: that start found nothing plannable)."""
    scores: list[float] = []
    for start in range(runs):
        options = replace(
            reference_options(cpu_s, start),
            candidate_floor=base.candidate_floor,
            candidate_factor=base.candidate_factor,
        )
        try:
            scores.append(plan_itinerary(places, trip, options=options).score)
        except PlanningError:
            continue
    return scores


@dataclass(frozen=True)
class ExactPair:
    """One small instance: the planner at the shipped settings against the proven optimum."""

    planner_score: float
    exact: ExactResult
    candidates: int

    @property
    def quality(self) -> float | None:
        if not self.exact.proven or not self.exact.score or self.exact.score <= 0:
            return None
        return self.planner_score / self.exact.score


def exact_pair(
    places: Sequence[Place], trip: TripRequest, time_limit_s: float, exact_limit_s: float
) -> ExactPair:
    options = SolverOptions(
        time_limit_s=time_limit_s, candidate_floor=SMALL_FLOOR, candidate_factor=SMALL_FACTOR
    )
    planned = plan_itinerary(places, trip, options=options)
    _, candidates, hops = solver_inputs(places, trip, options)
    minutes = [[hop.minutes for hop in row] for row in hops]
    exact = exact_optimum(
        candidates,
        minutes,
        trip,
        travel_cost_per_min=options.travel_cost_per_min,
        time_limit_s=exact_limit_s,
    )
    return ExactPair(planned.score, exact, len(candidates))

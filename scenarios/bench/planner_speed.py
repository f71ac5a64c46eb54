"""How fast this machine runs the planner now: the CPU time of one fixed, deterministic plan.

The planner's targets are in milliseconds, and the speed of a shared machine drifts: with the
same code (`a343548`) the planner benchmark's 1-day p95 read 20 ms at 05:21 UTC and 53 ms at
19:47 UTC one day, and ai-service's CPU per generation 68-70 ms and 151 ms. A planner figure
(`nox -s bench-planner`, the AI case of `nox -s bench`) is therefore printed beside this one, so
two runs can be told apart from a change of the code: the same 3-day Seoul request, planned
with a fixed number of solutions (the same search moves every time, never a clock), timed in
CPU of the calling thread, the median of a few repeats.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import date

from services.ai.planner.models import GeoPoint, Place, TripRequest
from services.ai.planner.planner import plan_itinerary
from services.ai.planner.solver import SolverOptions

# A deterministic search: a solution limit, no stall rule, no clock that a busy machine hits.
SPEED_OPTIONS = SolverOptions(time_limit_s=60.0, stall_s=None, solution_limit=150)
# Three days from City Hall by transit, in April (the built-in seasonal weights).
SPEED_TRIP = TripRequest(
    start_date=date(2026, 4, 7),
    days=3,
    lodging=GeoPoint(lat=37.5663, lng=126.9779),
    pace="normal",
    mode="transit",
    preferred_categories=("culture",),
)
REPEATS = 5


@dataclass(frozen=True)
class PlannerSpeed:
    """CPU milliseconds of the fixed plan: the median and every repeat."""

    cpu_ms: float
    samples: tuple[float, ...]

    def describe(self) -> str:
        return (
            f"planner speed: a fixed {SPEED_TRIP.days}-day plan took {self.cpu_ms:.0f} ms of "
            f"CPU (median of {len(self.samples)}; lower = a faster machine)"
        )


def measure_planner_speed(places: list[Place], repeats: int = REPEATS) -> PlannerSpeed:
    """The fixed plan's CPU time on this machine now (after one untimed warm-up plan)."""
    plan_itinerary(places, SPEED_TRIP, options=SPEED_OPTIONS)
    samples = []
    for _ in range(max(1, repeats)):
        started = time.thread_time()
        plan_itinerary(places, SPEED_TRIP, options=SPEED_OPTIONS)
        samples.append(round((time.thread_time() - started) * 1000, 1))
    return PlannerSpeed(statistics.median(samples), tuple(samples))

"""The planner benchmark's references (shipped settings, proven optimum) and the search's
anytime stop rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from scenarios.bench.exact import exact_optimum
from scenarios.bench.planner_reference import (
    CHART_VALUES,
    ShippedSettingsError,
    shipped_time_limit,
)
from services.ai.planner.models import GeoPoint, TripRequest
from services.ai.planner.planner import plan_itinerary, solver_inputs
from services.ai.planner.solver import SolverOptions, _Progress
from services.ai.planner.synthetic import seoul_places
from services.ai.settings import AISettings

SEOUL_CITY_HALL = GeoPoint(lat=37.5663, lng=126.9779)


def test_the_benchmark_reads_the_shipped_limit_and_refuses_a_disagreement(tmp_path: Path) -> None:
    assert shipped_time_limit() == AISettings.model_fields["planner_time_limit_s"].default
    values = yaml.safe_load(CHART_VALUES.read_text())
    values["services"]["ai"]["env"]["PLANNER_TIME_LIMIT_S"] = "9.5"
    other = tmp_path / "values.yaml"
    other.write_text(yaml.safe_dump(values))
    with pytest.raises(ShippedSettingsError, match=r"PLANNER_TIME_LIMIT_S=9\.5"):
        shipped_time_limit(other)


def test_the_exact_optimum_bounds_the_planner_on_a_small_instance() -> None:
    places = seoul_places(40)
    trip = TripRequest(start_date=date(2026, 4, 7), days=1, lodging=SEOUL_CITY_HALL, pace="relaxed")
    options = SolverOptions(time_limit_s=2.0, candidate_floor=8, candidate_factor=1.0)
    plan = plan_itinerary(places, trip, options=options)
    _, candidates, hops = solver_inputs(places, trip, options)
    minutes = [[h.minutes for h in row] for row in hops]
    exact = exact_optimum(candidates, minutes, trip, time_limit_s=30)
    assert exact.proven and exact.score is not None
    # The same instance and objective: the search cannot beat the proven optimum, and on
    # eight candidates it finds it.
    assert plan.score <= exact.score + 1e-6
    assert plan.score == pytest.approx(exact.score, abs=1e-3)


def test_the_search_stops_when_gains_stall_in_cpu_time() -> None:
    progress = _Progress(stall_s=0.08, min_gain_units=100)
    assert not progress.record(10_000, now=progress.started)
    # Small steps add up: 40 + 40 units is no gain yet, the third step makes 120.
    assert not progress.record(9_960, now=progress.started + 0.03)
    assert not progress.record(9_920, now=progress.started + 0.06)
    assert not progress.record(9_880, now=progress.started + 0.07)
    assert progress.last_gain == progress.started + 0.07
    assert not progress.record(9_870, now=progress.started + 0.12)  # 0.05 s since the gain
    assert progress.record(9_860, now=progress.started + 0.16)  # 0.09 s: stalled
    assert progress.best == 9_860


def test_a_cpu_budget_ends_a_reference_run() -> None:
    progress = _Progress(stall_s=None, min_gain_units=1, cpu_limit_s=1.0)
    assert not progress.record(100, now=progress.started + 0.5)
    assert not progress.record(90, now=progress.started + 1.2)  # a gain is still taken
    assert progress.record(90, now=progress.started + 1.3)

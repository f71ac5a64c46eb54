"""The planner benchmark's references (shipped settings, proven optimum), and the search: its
anytime stop rule, its starts and its LNS limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenarios.bench.exact import exact_optimum
from scenarios.bench.planner_reference import (
    CHART_VALUES,
    ShippedSettingsError,
    shipped_time_limit,
)
from services.ai.planner import seed, solver
from services.ai.planner.hours import day_rules
from services.ai.planner.models import GeoPoint, Place, TripRequest
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


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[_Progress]:
    """The stop rules of every search the solver runs (each search gets its own)."""
    made: list[_Progress] = []
    real = solver._Progress

    def recorded(*args: Any, **kwargs: Any) -> _Progress:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(solver, "_Progress", recorded)
    return made


def _seoul_instance(days: int) -> tuple[list[Place], TripRequest]:
    places = seoul_places(60, seed=3)
    trip = TripRequest(start_date=date(2025, 5, 2), days=days, lodging=SEOUL_CITY_HALL)
    return places, trip


def test_the_better_of_the_searches_wins_whichever_start_comes_first(
    monkeypatch: pytest.MonkeyPatch, searches: list[_Progress]
) -> None:
    places, trip = _seoul_instance(2)
    # One solution per search: each answer is its seed as read in, so the two are comparable.
    options = SolverOptions(time_limit_s=30.0, stall_s=None, solution_limit=1)
    _, candidates, hops = solver_inputs(places, trip, options)
    minutes = [[h.minutes for h in row] for row in hops]
    good = seed.greedy_seeds(candidates, minutes, trip.days, day_rules(trip), 8)[0]
    poor: list[list[int]] = [route[:1] for route in good]  # one visit a day of the same plan

    def worse_first(*args: object, **kwargs: object) -> list[list[list[int]]]:
        return [poor, good]

    monkeypatch.setattr(solver, "greedy_seeds", worse_first)
    one = solver.solve(candidates, minutes, trip, replace(options, starts=1))
    assert len(searches) == 1
    both = solver.solve(candidates, minutes, trip, options)
    assert len(searches) == 3
    assert one is not None and both is not None
    assert [len(r) for r in one.routes] == [1] * trip.days
    assert both.routes == tuple(tuple(r) for r in good)
    assert both.objective < one.objective


def test_a_seed_the_short_lns_limit_cannot_place_is_searched_under_the_default(
    monkeypatch: pytest.MonkeyPatch, searches: list[_Progress]
) -> None:
    # The LNS limit also bounds placing the meals of the seed as it is read in: 30 meals
    # cannot be placed in 0.1 ms, so the first search finds nothing and the fallback plans it.
    places, trip = _seoul_instance(15)
    monkeypatch.setattr(solver, "LNS_S_PER_DAY", 0.0)
    options = SolverOptions(time_limit_s=10.0, lns_time_limit_s=0.0001, starts=1)
    plan = plan_itinerary(places, trip, options=options)
    assert len(searches) == 2
    assert plan.totals.visits > trip.days


def test_the_lns_limit_grows_with_the_days(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 30-day trip's seed needed about 5 ms to be read in, over the 5 ms floor: its first search
    # runs under LNS_S_PER_DAY a day instead. Whether the read-in fits that is the machine's
    # speed (a busy one falls back to OR-Tools' default, as above), so this holds the limit the
    # first search is given, and the plan; the planner benchmark holds the time.
    limits: list[float] = []
    real = solver._Search._search

    def recorded(search: Any, routes: list[list[int]], units: int, lns_s: float) -> Any:
        limits.append(lns_s)
        return real(search, routes, units, lns_s)

    monkeypatch.setattr(solver._Search, "_search", recorded)
    places = seoul_places(150)
    trip = TripRequest(start_date=date(2025, 10, 1), days=30, lodging=SEOUL_CITY_HALL)
    plan = plan_itinerary(places, trip, options=SolverOptions(time_limit_s=1.5, starts=1))
    assert limits[0] == pytest.approx(solver.LNS_S_PER_DAY * 30)
    assert limits[0] > SolverOptions().lns_time_limit_s  # the floor alone would be too short
    assert plan.totals.visits > 60


def test_a_second_search_follows_only_a_cheap_first_one(searches: list[_Progress]) -> None:
    places, trip = _seoul_instance(3)
    plan_itinerary(places, trip, options=SolverOptions(time_limit_s=10.0, later_start_below_s=0.0))
    assert len(searches) == 1  # the first one used more than no CPU at all
    searches.clear()
    options = SolverOptions(time_limit_s=10.0, later_start_below_s=None)
    plan_itinerary(places, trip, options=options)
    assert len(searches) == 2
    searches.clear()  # a deterministic search never stops on a clock
    options = SolverOptions(time_limit_s=60.0, solution_limit=40, later_start_below_s=0.0)
    plan_itinerary(places, trip, options=options)
    assert len(searches) == 2

"""The planner-speed figure: a fixed plan whose search is the same every time, timed in CPU."""

from __future__ import annotations

from scenarios.bench.planner_speed import (
    SPEED_OPTIONS,
    SPEED_TRIP,
    PlannerSpeed,
    measure_planner_speed,
)
from services.ai.planner.planner import plan_itinerary
from services.ai.planner.synthetic import seoul_places


def test_the_fixed_plan_makes_the_same_search_every_time() -> None:
    """What is timed must not change from run to run, or its time would not say the machine's
    speed: the same solutions found, the same itinerary returned."""
    places = seoul_places()
    first = plan_itinerary(places, SPEED_TRIP, options=SPEED_OPTIONS)
    second = plan_itinerary(places, SPEED_TRIP, options=SPEED_OPTIONS)
    assert first.objective == second.objective and first.totals == second.totals
    assert [[v.place_id for v in d.visits] for d in first.days] == [
        [v.place_id for v in d.visits] for d in second.days
    ]
    assert first.totals.visits >= 9  # a real search over three days, not a trivial one


def test_the_figure_is_the_median_of_the_repeats() -> None:
    speed = measure_planner_speed(seoul_places(), repeats=3)
    assert len(speed.samples) == 3 and all(s > 0 for s in speed.samples)
    assert speed.cpu_ms == sorted(speed.samples)[1]
    assert "fixed 3-day plan took" in speed.describe()


def test_the_description_names_the_unit_and_the_direction() -> None:
    text = PlannerSpeed(84.0, (80.0, 84.0, 90.0)).describe()
    assert "84 ms of CPU" in text and "median of 3" in text and "lower = a faster" in text

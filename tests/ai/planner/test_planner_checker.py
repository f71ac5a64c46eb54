"""`verify_itinerary` catches each kind of broken rule, on plans built and broken by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.ai.planner import ItineraryViolation, verify_itinerary
from services.ai.planner.models import Itinerary, Place, TripRequest
from tests.ai.planner.planner_cases import (
    MONDAY,
    hand_plan,
    hours,
    place,
    replace_day,
    trip,
)

MIN = timedelta(minutes=1)
PLACES = [
    place("museum", north=1.0, duration=90, opening=hours("10:00", "18:00", closed=("tue",))),
    place("market", north=1.5, east=0.5, duration=60, opening=hours("09:00", "19:00")),
    place("tower", east=-1.0, duration=45),
]
REQUEST = trip(must_visit=("market",))


def broken(plan: Itinerary, request: TripRequest = REQUEST) -> list[str]:
    with pytest.raises(ItineraryViolation) as caught:
        verify_itinerary(plan, PLACES, request)
    return caught.value.violations


def shift_visit(plan: Itinerary, index: int, by: timedelta) -> Itinerary:
    day = plan.days[0]
    visits = list(day.visits)
    v = visits[index]
    visits[index] = v.model_copy(
        update={"arrival": v.arrival + by, "start": v.start + by, "departure": v.departure + by}
    )
    return replace_day(plan, visits=tuple(visits))


@pytest.fixture
def plan() -> Itinerary:
    return hand_plan(PLACES, REQUEST)


def test_the_hand_made_plan_is_valid(plan: Itinerary) -> None:
    verify_itinerary(plan, PLACES, REQUEST)
    verify_itinerary(plan, {p.id: p for p in PLACES}, REQUEST)  # a mapping works too


def test_visit_outside_opening_hours(plan: Itinerary) -> None:
    # museum opens at 10:00; the hand plan arrives ~10:10 — move it an hour earlier.
    problems = broken(shift_visit(plan, 0, -timedelta(hours=1)))
    assert any("outside its opening hours" in p for p in problems)


def test_visit_on_a_closed_day() -> None:
    tuesday = trip(start_date=MONDAY + timedelta(days=1), must_visit=("market",))
    plan = hand_plan(PLACES, tuesday)
    problems = broken(plan, tuesday)
    assert any("on a tue, when it is closed" in p for p in problems)


def test_overlapping_visits(plan: Itinerary) -> None:
    # the second visit slides back onto the first
    gap = plan.days[0].visits[1].start - plan.days[0].visits[0].start
    problems = broken(shift_visit(plan, 1, -gap + 10 * MIN))
    assert any("overlaps" in p for p in problems)


def test_activity_outside_the_daily_window(plan: Itinerary) -> None:
    late = trip(must_visit=("market",), day_end="14:00")
    problems = broken(plan, late)
    assert any("outside the daily window" in p for p in problems)


def test_travel_time_inconsistent_with_the_travel_model(plan: Itinerary) -> None:
    legs = list(plan.days[0].legs)
    legs[1] = legs[1].model_copy(update={"minutes": legs[1].minutes - 3})
    problems = broken(replace_day(plan, legs=tuple(legs)))
    assert any("the travel model says" in p for p in problems)


def test_leg_that_does_not_last_its_minutes(plan: Itinerary) -> None:
    legs = list(plan.days[0].legs)
    legs[0] = legs[0].model_copy(update={"arrive": legs[0].arrive - 2 * MIN})
    problems = broken(replace_day(plan, legs=tuple(legs)))
    assert any("apart" in p for p in problems)


def test_legs_must_chain_the_visits(plan: Itinerary) -> None:
    problems = broken(replace_day(plan, legs=plan.days[0].legs[:-1]))
    assert any("do not chain" in p for p in problems)


def test_missing_must_visit() -> None:
    without_market = [p for p in PLACES if p.id != "market"]
    plan = hand_plan(without_market, REQUEST)
    problems = broken(plan)
    assert any("must-visit place(s) missing: ['market']" in p for p in problems)


def test_pace_exceeded(plan: Itinerary) -> None:
    problems = broken(plan, trip(must_visit=("market",), max_visits_per_day=2))
    assert any("exceed the pace limit of 2" in p for p in problems)


def test_missing_meal(plan: Itinerary) -> None:
    problems = broken(replace_day(plan, meals=plan.days[0].meals[:1]))
    assert any("meals ['lunch'] but the trip asks for ['dinner', 'lunch']" in p for p in problems)


def test_meal_outside_its_window_and_on_top_of_a_visit(plan: Itinerary) -> None:
    lunch, dinner = plan.days[0].meals
    first = plan.days[0].visits[0]
    moved = lunch.model_copy(update={"start": first.start, "end": first.start + 60 * MIN})
    problems = broken(replace_day(plan, meals=(moved, dinner)))
    assert any("lunch" in p and "outside its window" in p for p in problems)
    assert any("overlaps" in p for p in problems)


def test_place_visited_twice() -> None:
    twice = [PLACES[1], PLACES[2], PLACES[1]]
    problems = broken(hand_plan(twice, REQUEST))
    assert any("visited twice" in p for p in problems)


def test_unknown_place_and_wrong_duration(plan: Itinerary) -> None:
    visits = list(plan.days[0].visits)
    visits[2] = visits[2].model_copy(update={"departure": visits[2].departure + 5 * MIN})
    problems = broken(replace_day(plan, visits=tuple(visits)))
    assert any("does not last its 45 min" in p for p in problems)
    others: list[Place] = [p for p in PLACES if p.id != "tower"]
    with pytest.raises(ItineraryViolation, match="unknown place 'tower'"):
        verify_itinerary(plan, others, REQUEST)


def test_wrong_number_of_days_and_dates(plan: Itinerary) -> None:
    problems = broken(plan, trip(days=2, must_visit=("market",)))
    assert any("plan has 1 days, the trip has 2" in p for p in problems)
    shifted = replace_day(plan, date=MONDAY + timedelta(days=1))
    assert any("expected day 1 on 2025-10-06" in p for p in broken(shifted))


def test_totals_must_add_up(plan: Itinerary) -> None:
    day = plan.days[0]
    wrong = day.totals.model_copy(update={"travel_minutes": day.totals.travel_minutes + 1})
    problems = broken(replace_day(plan, totals=wrong))
    assert any("travel minutes do not add up" in p for p in problems)


def test_the_error_lists_every_violation_in_its_message(plan: Itinerary) -> None:
    with pytest.raises(ItineraryViolation) as caught:
        verify_itinerary(shift_visit(plan, 0, -timedelta(hours=1)), PLACES, trip(day_end="12:00"))
    assert len(caught.value.violations) >= 2
    assert str(caught.value).startswith("invalid itinerary: ")

"""Small hand-made instances whose right answer is known."""

from __future__ import annotations

from datetime import time

import pytest

from services.ai.planner import (
    LODGING_ID,
    Itinerary,
    MealWindow,
    WishWeights,
    plan_itinerary,
    verify_itinerary,
)
from tests.ai.planner.planner_cases import CENTRE, MONDAY, QUICK, hours, place, ring, trip


def visited(itinerary: Itinerary) -> list[list[str]]:
    return [[v.place_id for v in day.visits] for day in itinerary.days]


def test_time_windows_force_the_order() -> None:
    # "a-late" sorts first by id and is nearer, but only opens in the afternoon.
    places = [
        place("a-late", north=0.5, opening=hours("15:00", "18:00")),
        place("z-early", north=-1.0, opening=hours("09:00", "11:00")),
    ]
    plan = plan_itinerary(places, trip(), options=QUICK)
    assert visited(plan) == [["z-early", "a-late"]]
    early, late = plan.days[0].visits
    assert early.departure.time() <= time(11, 0)
    assert late.start.time() >= time(15, 0)


def test_a_closed_day_is_respected() -> None:
    # Monday + Tuesday; the palace closes on Mondays (like Gyeongbokgung on Tuesdays).
    places = [place("palace", opening=hours("09:00", "18:00", closed=("mon",)), rating=5.0)]
    plan = plan_itinerary(places, trip(days=2, must_visit=("palace",)), options=QUICK)
    assert visited(plan) == [[], ["palace"]]
    assert plan.days[1].weekday == "tue"


def test_a_place_closed_on_every_trip_day_is_never_planned() -> None:
    places = [place("museum", opening=hours(closed=("mon",)), rating=5.0), place("park")]
    plan = plan_itinerary(places, trip(), options=QUICK)
    assert visited(plan) == [["park"]]


def test_must_visit_is_included_even_with_a_low_prize() -> None:
    stars = ring(6, radius_km=0.5, rating=5.0, category="food")
    dull = place("dull", north=3.0, rating=1.0, category="culture")
    request = trip(max_visits_per_day=2, preferred_categories=("food",), must_visit=("dull",))
    plan = plan_itinerary([*stars, dull], request, options=QUICK)
    (day,) = visited(plan)
    assert "dull" in day and len(day) == 2
    visit = next(v for v in plan.days[0].visits if v.place_id == "dull")
    assert visit.must_visit and "must-visit" in visit.reason


@pytest.mark.parametrize(("pace", "cap"), [("relaxed", 3), ("normal", 5), ("packed", 7)])
def test_pace_caps_visits_per_day(pace: str, cap: int) -> None:
    places = ring(24, radius_km=0.4, duration=30)
    plan = plan_itinerary(places, trip(days=2, pace=pace), options=QUICK)
    assert [len(day) for day in visited(plan)] == [cap, cap]  # plenty of short, close places


def test_meal_breaks_are_present_and_inside_their_windows() -> None:
    places = ring(12, radius_km=1.0, duration=90)
    plan = plan_itinerary(places, trip(days=2), options=QUICK)
    for day in plan.days:
        meals = {m.kind: m for m in day.meals}
        assert set(meals) == {"lunch", "dinner"}
        assert time(11, 30) <= meals["lunch"].start.time()
        assert meals["lunch"].end.time() <= time(14, 0)
        assert (meals["lunch"].end - meals["lunch"].start).seconds == 3600
        assert time(17, 30) <= meals["dinner"].start.time()
        assert meals["dinner"].end.time() <= time(20, 30)
        for meal in day.meals:
            for visit in day.visits:
                assert meal.end <= visit.start or meal.start >= visit.departure


def test_meals_follow_the_request() -> None:
    places = ring(6, radius_km=1.0)
    request = trip(lunch=None, dinner=MealWindow(earliest="18:00", latest="20:00", duration_min=90))
    plan = plan_itinerary(places, request, options=QUICK)
    (meal,) = plan.days[0].meals
    assert meal.kind == "dinner" and meal.start.time() == time(18, 0)


def test_walking_and_driving_give_different_plans() -> None:
    # Near: mediocre places 1 km away. Far: excellent ones in a cluster 12 km away.
    near = [place(f"near{i}", north=1.0, east=0.2 * i, rating=3.0) for i in range(4)]
    far = [place(f"far{i}", north=12.0, east=0.2 * i, rating=5.0) for i in range(4)]
    request = {"preferred_categories": ("culture",), "max_visits_per_day": 4}
    walking = plan_itinerary([*near, *far], trip(mode="walk", **request), options=QUICK)
    driving = plan_itinerary([*near, *far], trip(mode="car", **request), options=QUICK)
    assert all(pid.startswith("near") for pid in visited(walking)[0])
    assert sum(pid.startswith("far") for pid in visited(driving)[0]) >= 3
    assert {leg.mode for leg in driving.days[0].legs} >= {"car"}
    assert {leg.mode for leg in walking.days[0].legs} == {"walk"}


def test_transit_walks_short_hops() -> None:
    places = [place("a", north=0.3), place("b", north=0.35), place("c", north=6.0)]
    plan = plan_itinerary(places, trip(mode="transit"), options=QUICK)
    modes = {(leg.from_id, leg.to_id): leg.mode for leg in plan.days[0].legs}
    assert "walk" in modes.values() and "transit" in modes.values()


def test_output_shape_totals_and_reasons() -> None:
    places = ring(10, radius_km=1.5, category="food", rating=4.7)
    request = trip(days=2, preferred_categories=("food",), start_date=MONDAY.replace(day=13))
    plan = plan_itinerary(places, request, options=QUICK)
    assert [d.date.isoformat() for d in plan.days] == ["2025-10-13", "2025-10-14"]
    assert plan.totals.visits == sum(len(d.visits) for d in plan.days) > 0
    assert plan.totals.travel_minutes == sum(leg.minutes for d in plan.days for leg in d.legs)
    assert plan.status.startswith("ROUTING_") and plan.objective > 0
    for day in plan.days:
        assert day.legs[0].from_id == LODGING_ID and day.legs[-1].to_id == LODGING_ID
        for visit in day.visits:
            assert visit.reason.startswith("matches your interest in food; rated 4.7")
    verify_itinerary(plan, places, request)  # already checked inside; still valid outside
    assert plan.model_dump(mode="json")["days"][0]["visits"][0]["start"].startswith("2025-10-13T")


def test_season_budget_and_wishes_shape_the_prize() -> None:
    nature = place("forest", category="nature", north=1.0, price=0)
    mall = place("mall", category="shopping", north=-1.0, price=4)
    one_slot = {"max_visits_per_day": 1}
    october = plan_itinerary([nature, mall], trip(**one_slot), options=QUICK)
    assert visited(october) == [["forest"]]
    assert "great in October" in october.days[0].visits[0].reason
    wish = WishWeights(categories={"shopping": 5.0})
    wished = plan_itinerary([nature, mall], trip(wishes=wish, **one_slot), options=QUICK)
    assert visited(wished) == [["mall"]]
    budget = plan_itinerary(
        [nature, mall], trip(wishes=wish, budget_level=0, **one_slot), options=QUICK
    )
    assert visited(budget) == [["forest"]]  # 0.6^4 outweighs the wish


def test_lodging_is_the_route_start_even_far_from_the_places() -> None:
    far_lodging = CENTRE.model_copy(update={"lat": CENTRE.lat + 0.05})
    plan = plan_itinerary(ring(5), trip(lodging=far_lodging), options=QUICK)
    first = plan.days[0].legs[0]
    assert first.from_id == LODGING_ID and first.minutes > 10

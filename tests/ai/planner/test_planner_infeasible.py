"""Requests that cannot be planned raise a specific PlanningError naming the problem."""

from __future__ import annotations

import pytest

from services.ai.planner import (
    MustVisitClosedError,
    MustVisitUnreachableError,
    NoCandidatesError,
    PlanningError,
    TooManyMustVisitsError,
    UnknownPlaceError,
    plan_itinerary,
)
from tests.ai.planner.planner_cases import QUICK, hours, place, ring, trip


def test_must_visit_closed_on_every_trip_day() -> None:
    # Monday-Tuesday trip; the gallery opens Wednesday to Sunday only.
    gallery = place("gallery", opening=hours("10:00", "18:00", closed=("mon", "tue")))
    with pytest.raises(MustVisitClosedError, match=r"'Place gallery' \(gallery\) is closed"):
        plan_itinerary([gallery, *ring(3)], trip(days=2, must_visit=("gallery",)), options=QUICK)


def test_must_visit_open_too_briefly_for_its_visit() -> None:
    short = place("short", duration=120, opening=hours("10:00", "11:00"))
    with pytest.raises(MustVisitClosedError, match="120-min visit"):
        plan_itinerary([short], trip(must_visit=("short",)), options=QUICK)


def test_more_must_visits_than_the_pace_allows() -> None:
    places = ring(4)
    request = trip(pace="relaxed", must_visit=tuple(p.id for p in places))
    with pytest.raises(TooManyMustVisitsError, match=r"4 must-visit places .* at most 3 visits"):
        plan_itinerary(places, request, options=QUICK)


def test_must_visits_that_need_more_time_than_the_trip_has() -> None:
    places = ring(3, duration=300)
    with pytest.raises(TooManyMustVisitsError, match="need 900 min of visiting"):
        plan_itinerary(places, trip(must_visit=tuple(p.id for p in places)), options=QUICK)


def test_must_visits_that_pass_the_counting_checks_but_do_not_fit_together() -> None:
    # Two 150-min visits, both only open 10:00-14:00 on the trip's single day: each fits
    # alone, together they need 5 hours of a 4-hour window; the solver's result names one.
    places = [
        place("left", east=-0.5, duration=150, opening=hours("10:00", "14:00")),
        place("right", east=0.5, duration=150, opening=hours("10:00", "14:00")),
    ]
    request = trip(must_visit=("left", "right"), lunch=None)
    with pytest.raises(TooManyMustVisitsError, match=r"could not fit must-visit place\(s\) 'Place"):
        plan_itinerary(places, request, options=QUICK)


def test_must_visit_too_far_for_the_mode() -> None:
    far = place("far", north=40.0)  # 40 km: a 11-hour walk each way
    with pytest.raises(MustVisitUnreachableError, match="cannot be reached from the lodging"):
        plan_itinerary([far, *ring(3)], trip(mode="walk", must_visit=("far",)), options=QUICK)


def test_must_visit_that_leaves_no_room_for_meals() -> None:
    # Open 11:00-15:00 for a 240-min visit: it would swallow the whole lunch window.
    long_lunch = place("banquet", duration=240, opening=hours("11:00", "15:00"))
    with pytest.raises(MustVisitUnreachableError, match="while keeping lunch"):
        plan_itinerary([long_lunch], trip(must_visit=("banquet",)), options=QUICK)
    # Without lunch the same request is fine.
    plan = plan_itinerary([long_lunch], trip(must_visit=("banquet",), lunch=None), options=QUICK)
    assert plan.days[0].visits[0].place_id == "banquet"


def test_unknown_must_visit_id() -> None:
    with pytest.raises(UnknownPlaceError, match="nowhere"):
        plan_itinerary(ring(3), trip(must_visit=("nowhere",)), options=QUICK)


def test_nothing_open() -> None:
    closed = [place("a", opening=hours(closed=("mon",))), place("b", opening={})]
    with pytest.raises(NoCandidatesError):
        plan_itinerary(closed, trip(), options=QUICK)


def test_every_planning_error_is_a_planning_error_with_a_code() -> None:
    for error in (
        MustVisitClosedError,
        MustVisitUnreachableError,
        TooManyMustVisitsError,
        UnknownPlaceError,
        NoCandidatesError,
    ):
        assert issubclass(error, PlanningError)
        assert error.code != PlanningError.code


def test_an_empty_trip_is_still_a_valid_plan() -> None:
    # Open places exist but none fits after meals (a 10-hour visit): days with meals only.
    plan = plan_itinerary([place("marathon", duration=600)], trip(days=2), options=QUICK)
    assert plan.totals.visits == 0
    assert all({m.kind for m in d.meals} == {"lunch", "dinner"} for d in plan.days)

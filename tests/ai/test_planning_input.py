"""From a schedule request to planner input: the request hash, review blending, the lodging,
keyword wishes, and the validation of LLM answers (no services needed)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from services.ai.llm import parse_narratives, parse_wish_weights
from services.ai.planner import Place, WishWeights
from services.ai.planning_input import blend_ratings, city_centre, request_hash, trip_request
from services.ai.schemas import ScheduleRequest
from services.ai.wishes import keyword_wish_weights


def request(**overrides: Any) -> ScheduleRequest:
    body: dict[str, Any] = {
        "city": "Seoul",
        "start_date": "2026-04-01",
        "end_date": "2026-04-03",
        "preferred_categories": ["culture", "food"],
        "must_visit": ["seoul-gyeongbokgung", "seoul-jongmyo"],
        "lodging": {"lat": 37.5665, "lng": 126.978},
        "wishes": "Quiet  tea houses",
        **overrides,
    }
    return ScheduleRequest.model_validate(body)


def place(pid: str, *, category: str = "culture", rating: float = 4.0, **kw: Any) -> Place:
    return Place(
        id=pid,
        name=pid,
        category=category,
        lat=kw.get("lat", 37.57),
        lng=kw.get("lng", 126.98),
        rating=rating,
        visit_duration_min=60,
        tags=kw.get("tags", ()),
    )


def test_requests_that_plan_the_same_share_a_hash() -> None:
    base = request_hash(request())
    assert (
        request_hash(
            request(
                city=" seoul ",
                preferred_categories=["food", "culture"],
                must_visit=["seoul-jongmyo", "seoul-gyeongbokgung"],
                lodging={"lat": 37.566500001, "lng": 126.978},
                wishes="quiet tea   HOUSES",
            )
        )
        == base
    )
    differences: list[dict[str, Any]] = [
        {"end_date": "2026-04-04"},
        {"pace": "packed"},
        {"budget": "low"},
        {"mode": "walk"},
        {"lodging": None},
        {"wishes": None},
        {"must_visit": []},
        {"city": "Busan"},
    ]
    for different in differences:
        assert request_hash(request(**different)) != base, different


def test_ratings_move_towards_the_review_average_by_their_weight() -> None:
    places = [place("a", rating=4.0), place("b", rating=3.0)]
    blended = blend_ratings(places, {"a": (2.0, 5)}, prior_weight=5.0)
    assert blended[0].rating == 3.0  # half listed rating, half five reviews
    assert blended[1] is places[1]  # no reviews: unchanged
    assert blend_ratings(places, {"a": (5.0, 1)}, prior_weight=0.0)[0].rating == 5.0


def test_a_trip_without_lodging_starts_at_the_median_of_the_city() -> None:
    places = [
        place("a", lat=37.0, lng=127.0),
        place("b", lat=37.5, lng=126.9),
        place("c", lat=39.0, lng=126.8),
    ]
    assert city_centre(places).lat == 37.5
    trip = trip_request(request(lodging=None), places, None, WishWeights())
    assert (trip.lodging.lat, trip.lodging.lng) == (37.5, 126.9)
    assert trip.days == 3 and trip.start_date == date(2026, 4, 1)
    assert trip.budget_level == 2  # medium
    assert trip_request(request(budget="high"), places, None, WishWeights()).budget_level is None


def test_the_span_of_a_request_is_checked_on_end_date() -> None:
    with pytest.raises(ValidationError) as refused:
        request(end_date="2026-05-01")  # 31 days
    assert refused.value.errors()[0]["loc"] == ("end_date",)
    assert "at most 30 days" in str(refused.value)
    with pytest.raises(ValidationError, match="before start_date"):
        request(end_date="2026-03-31")


def test_seasonal_weights_and_wishes_reach_the_planner() -> None:
    wishes = WishWeights(categories={"food": 2.0})
    trip = trip_request(request(), [place("a")], {"culture": 1.2}, wishes)
    assert trip.seasonal_weights == {"culture": 1.2}
    assert trip.wishes == wishes
    assert trip.must_visit == ("seoul-gyeongbokgung", "seoul-jongmyo")
    assert trip.preferred_categories == ("culture", "food")


def test_keyword_wishes_lift_named_categories_and_tags_and_lower_negated_ones() -> None:
    places = [
        place("a", category="culture", tags=("quiet", "tea")),
        place("b", category="shopping", tags=("street-food",)),
        place("c", category="food", tags=("museums",)),
    ]
    weights = keyword_wish_weights("A quiet tea house, street food, no shopping!", places)
    assert weights.categories == {"food": 1.5, "shopping": 0.5}
    assert weights.tags == {"quiet": 1.5, "street-food": 1.5, "tea": 1.5}
    assert keyword_wish_weights("museum", places).tags == {"museums": 1.5}
    assert keyword_wish_weights(None, places) == WishWeights()
    assert keyword_wish_weights("nothing matches here", places) == WishWeights()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"categories": {"food": 2}, "tags": {"tea": 3}}', ({"food": 2.0}, {"tea": 3.0})),
        ('```json\n{"categories": {"Food": 0.5}}\n```', ({"food": 0.5}, {})),
        ('Sure! {"categories": {"food": 2, "moon": 4}} Enjoy.', ({"food": 2.0}, {})),
        ('{"categories": {"food": 7}}', None),  # out of range: the whole answer is void
        ('{"categories": {"food": "lots"}}', None),
        ('{"categories": {"food": true}}', None),
        ('{"categories": ["food"]}', None),
        ("[1, 2, 3]", None),
        ("no json at all", None),
    ],
)
def test_llm_wish_weights_are_validated(
    answer: str, expected: tuple[dict[str, float], dict[str, float]] | None
) -> None:
    parsed = parse_wish_weights(answer, {"food", "culture"}, {"tea"})
    if expected is None:
        assert parsed is None
    else:
        assert parsed == WishWeights(categories=expected[0], tags=expected[1])


def test_llm_narratives_need_one_string_per_day() -> None:
    assert parse_narratives('{"days": ["One.", " Two  days. "]}', 2) == ["One.", "Two days."]
    assert parse_narratives('{"days": ["One."]}', 2) is None
    assert parse_narratives('{"days": ["One.", 2]}', 2) is None
    assert parse_narratives('{"days": ["One.", ""]}', 2) is None
    assert parse_narratives("Day 1 was lovely", 1) is None
    long = parse_narratives('{"days": ["' + "x" * 5000 + '"]}', 1)
    assert long is not None and len(long[0]) == 600

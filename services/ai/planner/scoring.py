"""Prize of each place for this trip, and the one-line reason shown to the traveller.

prize = rating factor × preference factor × season factor × budget factor × wish factor,
in points (an average place ≈ 1). Each factor is explainable on its own, which is what makes
the reason line honest: it names the factors that lifted the place.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from services.ai.planner.models import Place, TripRequest

# Built-in monthly patterns (SPEC.md › Dev data initialisation: "12 monthly seasonal patterns";
# the documents give no figures, so these are ours): Korean seasons — spring blossom (Apr–May)
# and autumn foliage (Oct–Nov) lift outdoor places, the monsoon (Jul–Aug) and winter lift indoor
# ones, summer lifts the coast. Categories not listed weigh 1.0. A trip can override a month with
# `TripRequest.seasonal_weights` (e.g. from the seasonal-pattern table in the database).
_OUTDOOR = (0.8, 0.85, 1.0, 1.3, 1.25, 1.05, 0.85, 0.85, 1.1, 1.3, 1.2, 0.8)
_INDOOR = (1.2, 1.15, 1.0, 0.9, 0.9, 1.0, 1.2, 1.2, 1.0, 0.9, 1.0, 1.2)
_COAST = (0.7, 0.7, 0.85, 0.95, 1.05, 1.2, 1.3, 1.3, 1.15, 1.0, 0.85, 0.7)
_CATEGORY_PATTERN: dict[str, tuple[float, ...]] = {
    "nature": _OUTDOOR,
    "park": _OUTDOOR,
    "leisure": _OUTDOOR,
    "landmark": (0.9, 0.9, 1.0, 1.15, 1.15, 1.0, 0.9, 0.9, 1.05, 1.15, 1.1, 0.95),
    "culture": (1.05, 1.05, 1.0, 1.05, 1.05, 1.0, 1.1, 1.1, 1.0, 1.1, 1.05, 1.05),
    "museum": _INDOOR,
    "shopping": (1.2, 1.1, 1.0, 0.95, 0.95, 1.0, 1.1, 1.1, 1.0, 0.95, 1.05, 1.25),
    "food": (1.1, 1.05, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.1, 1.15),
    "market": (1.1, 1.05, 1.0, 1.0, 1.0, 0.95, 0.9, 0.9, 1.05, 1.1, 1.1, 1.2),
    "cafe": _INDOOR,
    "nightlife": (0.9, 0.9, 1.0, 1.05, 1.1, 1.15, 1.15, 1.15, 1.1, 1.05, 0.95, 1.0),
    "ocean": _COAST,
    "beach": _COAST,
}
SEASONAL_WEIGHTS: dict[int, dict[str, float]] = {
    month: {category: pattern[month - 1] for category, pattern in _CATEGORY_PATTERN.items()}
    for month in range(1, 13)
}

PREFERRED_CATEGORY_FACTOR = 1.8
PREFERRED_TAG_FACTOR = 1.4  # a preferred word among the tags, not the category
OVER_BUDGET_FACTOR = 0.6  # per price level above the budget
GREAT_SEASON = 1.15  # season weights from here up are worth a mention
PRIZE_UNITS = 1000  # solver integers per prize point


@dataclass(frozen=True, slots=True)
class Prize:
    points: float
    units: int  # what the solver sees
    reason: str


def season_weight(place: Place, trip: TripRequest) -> float:
    month = trip.season_month
    if trip.seasonal_weights and place.category in trip.seasonal_weights:
        return trip.seasonal_weights[place.category]
    return SEASONAL_WEIGHTS[month].get(place.category, 1.0)


def prize_of(place: Place, trip: TripRequest, *, must_visit: bool = False) -> Prize:
    reasons: list[str] = []
    if must_visit:
        reasons.append("on your must-visit list")

    rating = 0.5 + (place.rating - 1) / 4  # 0.5 (1 star) … 1.5 (5 stars)

    preferred = set(trip.preferred_categories)
    preference = 1.0
    if place.category in preferred:
        preference = PREFERRED_CATEGORY_FACTOR
        reasons.append(f"matches your interest in {place.category}")
    elif matched := sorted(preferred.intersection(place.tags)):
        preference = PREFERRED_TAG_FACTOR
        reasons.append(f"matches your interest in {matched[0]}")

    if place.rating >= 4.0:
        reasons.append(f"rated {place.rating:.1f}")

    season = season_weight(place, trip)
    if season >= GREAT_SEASON:
        reasons.append(f"great in {calendar.month_name[trip.season_month]}")

    budget = 1.0
    if trip.budget_level is not None and place.price_level > trip.budget_level:
        budget = OVER_BUDGET_FACTOR ** (place.price_level - trip.budget_level)
    elif trip.budget_level is not None and place.price_level <= min(trip.budget_level, 1):
        reasons.append("easy on the budget")

    wish = trip.wishes.categories.get(place.category, 1.0)
    wished_tags = [trip.wishes.tags[t] for t in place.tags if t in trip.wishes.tags]
    for weight in wished_tags:
        wish *= weight
    if wish > 1.0:
        reasons.append("fits your wishes")

    points = rating * preference * season * budget * wish
    if not reasons:
        reasons.append(f"a well-placed {place.category} stop rated {place.rating:.1f}")
    # At least one unit so that a zero-prize place is still a (useless) node, never a negative one.
    return Prize(
        points=points, units=max(1, round(points * PRIZE_UNITS)), reason="; ".join(reasons)
    )

"""Words the services share in their APIs (a contract, not logic): categories, pace, budget."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """Place categories of the sample data (SPEC.md › Dev data initialisation)."""

    CULTURE = "culture"
    SHOPPING = "shopping"
    FOOD = "food"
    OCEAN = "ocean"
    NATURE = "nature"
    LEISURE = "leisure"


class Pace(StrEnum):
    RELAXED = "relaxed"
    NORMAL = "normal"
    PACKED = "packed"


class Budget(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TravelMode(StrEnum):
    WALK = "walk"
    TRANSIT = "transit"
    CAR = "car"

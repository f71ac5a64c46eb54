"""TripGen itinerary planner: a pure library (no DB, no HTTP) that ai-service calls.

    from services.ai.planner import TripRequest, Place, plan_itinerary
    itinerary = plan_itinerary(places, trip)            # verified, or an error is raised

Modules, one job each: models (inputs/outputs), hours (opening hours, clock, meals), travel
(distance → minutes by mode), scoring (prizes and reasons), candidates (windows, must-visit
checks, pre-filter), seed (greedy first solution), solver (OR-Tools model), schedule (exact times
and meals), checker (`verify_itinerary`), planner (the pipeline), synthetic (test data),
bench (`python -m scenarios.bench.planner`).
"""

from services.ai.planner.checker import verify_itinerary
from services.ai.planner.errors import (
    ItineraryViolation,
    MustVisitClosedError,
    MustVisitUnreachableError,
    NoCandidatesError,
    PlannerError,
    PlanningError,
    SolverTimeout,
    TooManyMustVisitsError,
    UnknownPlaceError,
)
from services.ai.planner.models import (
    LODGING_ID,
    PACE_MAX_VISITS,
    DayPlan,
    GeoPoint,
    Itinerary,
    Leg,
    Meal,
    MealWindow,
    Place,
    Totals,
    TripRequest,
    Visit,
    WishWeights,
)
from services.ai.planner.planner import plan_itinerary
from services.ai.planner.solver import DEFAULT_TIME_LIMIT_S, SolverOptions

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "LODGING_ID",
    "PACE_MAX_VISITS",
    "DayPlan",
    "GeoPoint",
    "Itinerary",
    "ItineraryViolation",
    "Leg",
    "Meal",
    "MealWindow",
    "MustVisitClosedError",
    "MustVisitUnreachableError",
    "NoCandidatesError",
    "Place",
    "PlannerError",
    "PlanningError",
    "SolverOptions",
    "SolverTimeout",
    "TooManyMustVisitsError",
    "Totals",
    "TripRequest",
    "UnknownPlaceError",
    "Visit",
    "WishWeights",
    "plan_itinerary",
    "verify_itinerary",
]

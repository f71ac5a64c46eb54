"""Errors the planner raises.

`PlanningError` and its subclasses mean the *request* cannot be planned (ai-service answers
422 with the message). `ItineraryViolation` means the planner produced a plan that breaks a rule:
a bug, never returned to the caller as a plan (500). `SolverTimeout` means no plan was found in
the time limit (503: retry with a longer limit).
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every planner error. `code` is a stable machine-readable name."""

    code = "planner_error"


class PlanningError(PlannerError):
    """The request cannot be planned as asked (→ 422)."""

    code = "planning_error"


class UnknownPlaceError(PlanningError):
    code = "unknown_place"


class NoCandidatesError(PlanningError):
    code = "no_candidates"


class MustVisitClosedError(PlanningError):
    """A must-visit place is closed (or too short-opened) on every day of the trip."""

    code = "must_visit_closed"


class MustVisitUnreachableError(PlanningError):
    """A must-visit place cannot be reached, visited and left within the daily window."""

    code = "must_visit_unreachable"


class TooManyMustVisitsError(PlanningError):
    """The must-visit places cannot all fit into the trip's days."""

    code = "too_many_must_visits"


class ItineraryViolation(PlannerError):
    """The checker found a broken rule; `violations` lists every one found."""

    code = "itinerary_violation"

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        shown = "; ".join(violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"invalid itinerary: {shown}{more}")

    def __reduce__(self) -> tuple[type[ItineraryViolation], tuple[list[str]]]:
        # keeps `violations` across a process pool (the default would pass the message)
        return (type(self), (self.violations,))


class SolverTimeout(PlannerError):
    code = "solver_timeout"

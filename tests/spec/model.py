"""The shape of one SPEC.md coverage item; the items are in the `items_*.py` modules."""

from __future__ import annotations

from dataclasses import dataclass

# SPEC.md's sections, in its order; every item names one of them.
SECTIONS = (
    "Services",
    "Compute",
    "Per-service resources",
    "Autoscaling and disruption (prod)",
    "Network and security",
    "Data, cache, messaging",
    "Dev data initialisation",
    "Targets (SLA and phases)",
    "Alerts, liveness, circuit breaker, deployment",
    "Conflicts and risks",
)


@dataclass(frozen=True)
class SpecItem:
    """One SPEC.md row or figure and how the repository answers it.

    `tested_by` holds pytest node ids (`path::test_name`, optionally `[param-id]`). An item is
    covered when it has tests and no `out_of_scope` reason; otherwise the reason says, in one
    line, why it is not (fully) here. `pending` names other work that may cover it later; it
    stays out of the rendered document.
    """

    id: str
    section: str
    quote: str
    implemented_in: tuple[str, ...] = ()
    tested_by: tuple[str, ...] = ()
    out_of_scope: str = ""
    note: str = ""
    pending: str = ""

    @property
    def covered(self) -> bool:
        return bool(self.tested_by) and not self.out_of_scope

    @property
    def status(self) -> str:
        if self.covered:
            return "covered"
        return "out of scope, partly tested" if self.tested_by else "out of scope"

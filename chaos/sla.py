"""The SLA objectives experiments are judged against: `runs/specs/<profile>.yaml`.

A steady-state tolerance names an objective by id (`postgres-failover`) or by metric
(`ai_generation_p95_ms`: the first gating objective measuring it), so the figure comes from the
spec — and through it from SPEC.md — never from the experiment file. The dev spec has no
recovery, failover or alert targets (SPEC.md: dev recovery is "manual"); an objective the
profile's spec lacks is taken from the prod spec, and the verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from runs.spec import METRICS, Objective, SlaSpec, format_value, load_spec

FALLBACK_SPEC = "prod"


@dataclass(frozen=True)
class ResolvedObjective:
    objective: Objective
    spec: str  # the spec it came from (may be the fallback)

    def describe(self, measured: float | None) -> str:
        shown = "—" if measured is None else format_value(self.objective.metric, measured)
        return f"{self.objective.id} ({self.spec}): {shown} {self.objective.target_text()}"


@lru_cache(maxsize=8)
def _spec(name: str) -> SlaSpec:
    return load_spec(name)


def _find(spec: SlaSpec, name: str) -> Objective | None:
    for objective in spec.objectives:
        if objective.id == name:
            return objective
    if name in METRICS:
        for objective in spec.objectives:
            if objective.metric == name and objective.gating:
                return objective
    return None


def resolve(name: str, sla: str) -> ResolvedObjective:
    """Objective `name` (id or metric) of spec `sla`, else of the prod spec."""
    for spec_name in dict.fromkeys((sla, FALLBACK_SPEC)):
        found = _find(_spec(spec_name), name)
        if found is not None:
            return ResolvedObjective(found, spec_name)
    raise KeyError(f"no SLA objective {name!r} in runs/specs/{sla}.yaml or {FALLBACK_SPEC}.yaml")

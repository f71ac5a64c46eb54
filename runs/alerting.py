"""The parts of an SLA spec beyond the judged objectives: the alert rules (SPEC.md › Targets ›
Alerts (v2)) and the disaster-recovery targets (RTO / RPO). `runs.spec.SlaSpec` holds them;
`runs.alerts` renders the rules for Prometheus and the chart's PrometheusRule.

An alert either names the objective it watches (`objective: alert-availability`): its threshold,
comparator and window are that objective's, so the judge and the alert can never disagree about
the line — or, for signals the judge does not measure (restarts, CPU, memory, DB connections),
carries its own `threshold`, `comparator`, `window_s` and `for_s`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Signal = Literal[
    "availability",  # share of non-5xx answers per service (0 when no replica is up)
    "error_rate",  # share of 5xx answers over every service
    "ai_response_p95",  # p95 of AI schedule generation, seconds
    "restarts",  # process restarts of one replica
    "cpu",  # CPU of one replica / its pod's CPU limit
    "memory",  # resident memory of one replica / its pod's memory limit
    "db_connections",  # connections of one PostgreSQL server / its max_connections
]
# The judged metric each signal corresponds to, for alerts that name an objective.
SIGNAL_METRIC: dict[str, str] = {
    "availability": "availability",
    "error_rate": "error_rate",
    "ai_response_p95": "ai_generation_p95_ms",
}


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    alert: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", description="Prometheus alert name")
    description: str = Field(min_length=1)
    source: str
    signal: Signal
    severity: Literal["warning", "critical"] = "warning"
    objective: str | None = None
    comparator: Literal["<", "<=", ">", ">="] | None = None
    threshold: float | None = None
    window_s: float | None = Field(default=None, gt=0)
    for_s: float = Field(default=0, ge=0)
    note: str = ""

    @field_validator("source")
    @classmethod
    def _cites_spec(cls, value: str) -> str:
        if not value.startswith("SPEC.md"):
            raise ValueError("must cite the SPEC.md row it comes from (start with 'SPEC.md')")
        return value

    @field_validator("threshold", "comparator", "window_s")
    @classmethod
    def _own_or_objective(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and info.data.get("objective"):
            raise ValueError(
                "comes from the named objective (one place for a threshold); remove it here"
            )
        return value


class DisasterRecovery(BaseModel):
    """Recovery time and point objectives of a restore from backup."""

    model_config = ConfigDict(extra="forbid")

    rto_s: float = Field(gt=0, description="data directory lost → serving writes again")
    rpo_s: float = Field(gt=0, description="last acknowledged write → last restored write")
    source: str

    @field_validator("source")
    @classmethod
    def _cites_spec(cls, value: str) -> str:
        if not value.startswith("SPEC.md"):
            raise ValueError("must cite the SPEC.md row it comes from (start with 'SPEC.md')")
        return value


def alert_problem(alert: AlertRule, objective_metrics: dict[str, str]) -> str | None:
    """What is wrong with `alert` given the spec's objectives (id → metric), or None."""
    if alert.objective is not None:
        metric = objective_metrics.get(alert.objective)
        if metric is None:
            return f"names objective {alert.objective!r}, which the spec does not have"
        if SIGNAL_METRIC.get(alert.signal) != metric:
            return (
                f"signal {alert.signal} cannot watch objective {alert.objective!r} "
                f"(it measures {metric})"
            )
        return None
    if alert.threshold is None or alert.comparator is None:
        return "needs `threshold` and `comparator` (or an `objective` that has them)"
    return None

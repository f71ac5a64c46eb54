"""The validation file: what `nox -s capacity -- --validate` measured about the model on this
machine, and what sla-check's judge reads to give scale objectives a MODELLED verdict.

`.tripgen/capacity/validation.json` (`$TRIPGEN_CAPACITY_VALIDATION` names another file) holds the
timestamp, the machine (cores, hostname, system), the git commit, each held-out step's predicted
and measured figures with their errors, the largest error per figure against the goals (≤ 10 %
throughput and utilisation, ≤ 20 % mean latency, p95 reported), the calibrated workload and the
phases' predictions (`phases[<SLA spec>]`: throughput, p95, errors, where the plan breaks).

`recent_validation(machine)` returns it only when it was made on this machine (same hostname and
core count) within `MAX_AGE`; otherwise None and why.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from runs.results import Machine

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATION_ENV = "TRIPGEN_CAPACITY_VALIDATION"
DEFAULT_FILE = REPO_ROOT / ".tripgen" / "capacity" / "validation.json"
MAX_AGE = timedelta(days=7)
# The goals the validation is held to (issue: the model must be trusted to open the gate).
GOALS = {"throughput": 0.10, "utilisation": 0.10, "mean_latency": 0.20}


def validation_path() -> Path:
    return Path(os.environ.get(VALIDATION_ENV) or DEFAULT_FILE)


class StepComparison(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    role: str  # "calibration" or "held-out"
    users: int
    replicas: dict[str, int]
    results: str
    measured: dict[str, float]
    predicted: dict[str, float]
    errors: dict[str, float]  # relative, signed: (predicted − measured) / measured


class Validation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: int = 1
    created_at: AwareDatetime
    machine: Machine
    git_commit: str | None = None
    git_dirty: bool | None = None
    steps: list[StepComparison]
    max_errors: dict[str, float]  # largest |error| per figure over the held-out steps
    goals: dict[str, float] = Field(default_factory=lambda: dict(GOALS))
    laws: list[dict[str, Any]] = Field(default_factory=list)
    pod_startup_s: list[float] = Field(default_factory=list)
    workload: dict[str, Any]
    phases: dict[str, dict[str, Any]] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @property
    def goals_met(self) -> bool:
        return all(abs(self.max_errors.get(k, float("inf"))) <= v for k, v in self.goals.items())

    def error_text(self) -> str:
        parts = [
            f"{name.replace('_', ' ')} {abs(value):.0%}" for name, value in self.max_errors.items()
        ]
        return ", ".join(parts)

    def save(self, path: Path | None = None) -> Path:
        path = path or validation_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)
        return path


def load_validation(path: Path | None = None) -> Validation | None:
    path = path or validation_path()
    try:
        return Validation.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        return None


def recent_validation(
    machine: Machine, path: Path | None = None, now: datetime | None = None
) -> tuple[Validation | None, str]:
    """(the validation, "") when it applies to `machine`; else (None, why not)."""
    path = path or validation_path()
    if not path.exists():
        return None, f"no capacity validation on this machine ({path} absent)"
    validation = load_validation(path)
    if validation is None:
        return None, f"{path} is not a readable capacity validation"
    if (validation.machine.hostname, validation.machine.cores) != (machine.hostname, machine.cores):
        return None, (
            f"the capacity validation was made on {validation.machine.hostname} "
            f"({validation.machine.cores} cores), not this run's machine"
        )
    age = (now or datetime.now(UTC)) - validation.created_at
    if age > MAX_AGE:
        return None, f"the capacity validation is {age.days} days old (> {MAX_AGE.days})"
    return validation, ""

"""The benchmark's results per replica mode, and the JSON report that holds them all."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runs.results import Machine
from scenarios.bench.ai import AiBenchResult
from scenarios.bench.cases import Check, Figures
from scenarios.bench.deployment import WORKERS_ENV, mode_settings
from scenarios.bench.verdicts import ai_dict
from scenarios.sla.gate import git_state


@dataclass
class ModeRun:
    """Every case measured against one deployment (one replica mode), with its verdicts."""

    mode: str
    replicas: dict[str, int]
    figures: list[Figures]
    ai: AiBenchResult | None
    ai_note: str
    baseline_rps: float | None = None
    idle_cpu_per_s: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "replicas": self.replicas,
            "workers": int(mode_settings(self.mode)[0].get(WORKERS_ENV, "1")),
            "baseline_rps": self.baseline_rps,
            "idle_cpu_per_s": self.idle_cpu_per_s,
            "cases": [asdict(f) for f in self.figures],
            "ai": ai_dict(self.ai, self.ai_note),
            "checks": [asdict(c) for c in self.checks],
        }


def build_report(
    settings: dict[str, Any],
    runs: list[ModeRun],
    started: datetime,
    load_before: tuple[float, float, float],
    *,
    complete: bool,
) -> dict[str, Any]:
    commit, dirty = git_state(Path(__file__).resolve().parents[2])
    return {
        "complete": complete,
        "started_at": started.isoformat(),
        "ended_at": datetime.now(UTC).isoformat(),
        "machine": Machine.current().model_dump(),
        "load_average_before": load_before,
        "git_commit": commit,
        "git_dirty": dirty,
        "settings": settings,
        "runs": {run.mode: run.as_dict() for run in runs},
        "checks": [{"replicas": run.mode, **asdict(c)} for run in runs for c in run.checks],
    }

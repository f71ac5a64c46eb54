"""What one experiment run showed, read from its chaostoolkit journal and its chaos events."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runs.results import ChaosEvent


@dataclass(frozen=True)
class ExperimentOutcome:
    name: str
    title: str
    status: str  # chaostoolkit's: completed | failed | aborted | interrupted | error
    deviated: bool
    hypothesis_before: bool | None  # None: not evaluated (e.g. interrupted before it)
    hypothesis_after: bool | None
    failed_probes: list[str] = field(default_factory=list)  # hypothesis probes out of tolerance
    failed_activities: list[str] = field(default_factory=list)  # method/rollback steps that raised
    recoveries: dict[str, float | None] = field(default_factory=dict)  # event → seconds
    findings: dict[str, Any] = field(default_factory=dict)  # method probe outputs, by step
    journal: Path | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Completed, hypothesis held before and after, and every step ran."""
        return (
            self.status == "completed"
            and not self.deviated
            and self.hypothesis_before is True
            and self.hypothesis_after is True
            and not self.failed_activities
        )

    @property
    def verdict(self) -> str:
        if self.ok:
            return "held"
        if self.status == "interrupted":
            return "not run"
        if self.deviated or self.hypothesis_before is False or self.hypothesis_after is False:
            return "deviated"
        return "error"


def _steady(journal: dict[str, Any], phase: str) -> tuple[bool | None, list[str]]:
    state = (journal.get("steady_states") or {}).get(phase)
    if not state:
        return None, []
    failed = [
        f"{phase}: {p['activity']['name']} → {_short(p.get('output'))}"
        + (f" ({p['exception'][-1].strip()})" if p.get("exception") else "")
        for p in state.get("probes", [])
        if not p.get("tolerance_met", False)
    ]
    return bool(state.get("steady_state_met")), failed


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failed_steps(runs: list[dict[str, Any]] | None, where: str) -> list[str]:
    failed = []
    for run in runs or []:
        if run.get("status") == "failed":
            error = "".join(run.get("exception") or []).strip().splitlines()
            failed.append(f"{where}: {run['activity']['name']}: {error[-1] if error else '?'}")
    return failed


def from_journal(
    name: str,
    journal: dict[str, Any],
    events: list[ChaosEvent],
    journal_path: Path | None = None,
) -> ExperimentOutcome:
    before, failed_before = _steady(journal, "before")
    after, failed_after = _steady(journal, "after")
    runs = journal.get("run") or []
    findings = {
        run["activity"]["name"]: run.get("output")
        for run in runs
        if run["activity"].get("type") == "probe" and run.get("status") == "succeeded"
    }
    status = str(journal.get("status", "error"))
    problems = _failed_steps(runs, "method") + _failed_steps(journal.get("rollbacks"), "rollback")
    if status == "interrupted" and not problems:
        problems = []  # not run on this platform: the reason is in the journal's log
    return ExperimentOutcome(
        name=name,
        title=str(journal.get("experiment", {}).get("title", name)),
        status=status,
        deviated=bool(journal.get("deviated", False)),
        hypothesis_before=before,
        hypothesis_after=after,
        failed_probes=failed_before + failed_after,
        failed_activities=problems,
        recoveries={e.name: e.recovery_s for e in events},
        findings=findings,
        journal=journal_path,
        duration_s=float(journal.get("duration", 0.0) or 0.0),
    )

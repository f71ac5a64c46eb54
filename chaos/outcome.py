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
    # Faults the experiment declares (extension `injects`) of which no chaos event was recorded:
    # the fault never happened, so nothing the hypothesis saw says anything about it.
    not_injected: list[str] = field(default_factory=list)
    # The alerts it expects to fire or to stay quiet, checked against Prometheus's ALERTS.
    alert_problems: list[str] = field(default_factory=list)
    alert_notes: list[str] = field(default_factory=list)
    # Requests the API refused with 429: the harness's own traffic over the per-user limit.
    rate_limited: int = 0

    @property
    def ok(self) -> bool:
        """Completed, the fault injected, hypothesis held before and after, every step ran,
        and the alerts behaved as stated."""
        return (
            self.status == "completed"
            and not self.deviated
            and self.hypothesis_before is True
            and self.hypothesis_after is True
            and not self.failed_activities
            and not self.not_injected
            and not self.alert_problems
        )

    @property
    def verdict(self) -> str:
        if self.ok:
            return "held"
        if self.status == "interrupted":
            return "not run"
        if self.not_injected:
            return "fault not injected"
        if self.deviated or self.hypothesis_before is False or self.hypothesis_after is False:
            return "deviated"
        if self.alert_problems:
            return "alerts wrong"
        return "error"

    @property
    def notes(self) -> list[str]:
        """Everything a reader needs about why it is not `held`, most telling first."""
        injected = [f"fault not injected: {name}" for name in self.not_injected]
        limited = (
            [f"{self.rate_limited} request(s) rate-limited (429) by the per-user limit: the "
             "harness's traffic, not the fault's effect (excluded from availability)"]
            if self.rate_limited else []
        )  # fmt: skip
        return [
            *injected,
            *self.failed_probes,
            *self.failed_activities,
            *self.alert_problems,
            *limited,
        ]


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


def _rate_limited(journal: dict[str, Any]) -> int:
    """429s the probes counted (their summaries' `rate_limited`), before, during and after."""
    runs = list(journal.get("run") or [])
    for phase in ("before", "after"):
        runs += ((journal.get("steady_states") or {}).get(phase) or {}).get("probes", [])
    return sum(
        int(run["output"].get("rate_limited") or 0)
        for run in runs
        if isinstance(run.get("output"), dict)
    )


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
        rate_limited=_rate_limited(journal),
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

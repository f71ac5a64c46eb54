"""An experiment whose fault was not injected has failed, loudly: its verdict says so and the
runner's exit status is non-zero, also under `--experiment all`; a 429 is the harness's, counted
apart from availability; the alert expectations and the sla-check report compare alerts with the
judge's verdicts. No deployment here (the fake platform, a stubbed Prometheus)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chaos import cli, expectations, runner
from chaos.outcome import ExperimentOutcome
from chaos.providers.http import summarise
from runs.results import ChaosEvent, ProbeResult
from runs.spec import load_spec
from scenarios.sla import alerts as sla_alerts
from simulation.state import DeploymentState, save_state

QUIET_EXPERIMENT: dict[str, Any] = {
    "version": "1.0.0",
    "title": "claims a fault it never injects",
    "description": "the action returns without doing anything",
    "extensions": [{"name": "tripgen", "experiment": "quiet", "injects": ["quiet-fault/*"]}],
    "controls": [
        {
            "name": "tripgen-platform-steps",
            "provider": {"type": "python", "module": "chaos.control"},
        }
    ],
    "steady-state-hypothesis": {
        "title": "nothing to see",
        "probes": [
            {
                "type": "probe",
                "name": "always false, as expected",
                "tolerance": False,
                "provider": {
                    "type": "python",
                    "module": "chaos.providers.tolerances",
                    "func": "all_true",
                    "arguments": {},
                },
            }
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "inject (but nothing happens)",
            "provider": {
                "type": "python",
                "module": "chaos.providers.tolerances",
                "func": "all_true",
                "arguments": {},
            },
        }
    ],
    "rollbacks": [],
}


def test_a_fault_that_was_not_injected_fails_the_experiment(
    tmp_path: Path, configuration: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = Path(configuration["state_dir"])
    state_dir.mkdir(parents=True)
    save_state(state_dir, DeploymentState("local", "prod", "http://127.0.0.1:9"))
    monkeypatch.setattr(runner, "load_experiment", lambda name: dict(QUIET_EXPERIMENT))
    monkeypatch.setattr(runner, "expand", lambda names: list(names))
    (outcome,) = runner.run_experiments(
        ["quiet"],
        profile="prod",
        platform="local",
        results_path=tmp_path / "run" / "results.json",
        background_load=False,
        state_dir=state_dir,
    )
    assert outcome.status == "completed"  # chaostoolkit alone would call this a success
    assert outcome.hypothesis_before and outcome.hypothesis_after
    assert outcome.not_injected == ["quiet-fault/*"]
    assert not outcome.ok
    assert outcome.verdict == "fault not injected"
    assert outcome.notes[0] == "fault not injected: quiet-fault/*"


def _outcome(**overrides: Any) -> ExperimentOutcome:
    values: dict[str, Any] = {
        "name": "dependency-latency",
        "title": "t",
        "status": "completed",
        "deviated": False,
        "hypothesis_before": True,
        "hypothesis_after": True,
    }
    return ExperimentOutcome(**{**values, **overrides})


@pytest.mark.parametrize("names", [["all"], ["dependency-latency"]])
def test_the_runner_exits_non_zero_for_a_fault_not_injected(
    monkeypatch: pytest.MonkeyPatch, names: list[str]
) -> None:
    @contextlib.contextmanager
    def deployed(_: object) -> Iterator[str]:
        yield "local"

    monkeypatch.setattr(cli, "deployment", deployed)
    monkeypatch.setattr(
        cli,
        "run_experiments",
        lambda *a, **k: [_outcome(not_injected=["dependency-latency/*"]), _outcome(name="ok")],
    )
    argv = [arg for name in names for arg in ("--experiment", name)]
    assert cli.main(argv) == 1


def test_429s_are_counted_apart_from_availability() -> None:
    now = datetime.now(UTC)

    def result(status: int) -> ProbeResult:
        return ProbeResult(
            target="users:me", timestamp=now, latency_ms=5.0, ok=status < 400, status=status
        )

    summary = summarise([result(200)] * 8 + [result(429)] * 2 + [result(503)])
    assert summary["rate_limited"] == 2
    assert summary["requests"] == 9 and summary["failures"] == 1
    assert summary["availability"] == pytest.approx(8 / 9)
    limited = _outcome(rate_limited=3)
    assert limited.ok  # the fault's verdict stands …
    assert "rate-limited (429)" in limited.notes[0]  # … and the harness's share is reported


def _seen(alert: str, first: datetime, state: str = "firing") -> sla_alerts.AlertSeen:
    return sla_alerts.AlertSeen(
        alert=alert,
        labels={"service": "location"},
        state=state,
        first_pending=first.isoformat(),
        first_firing=first.isoformat() if state == "firing" else None,
        last_seen=first.isoformat(),
    )


def test_alert_expectations_charge_only_alerts_that_began_during_the_experiment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = datetime.now(UTC)
    seen = [
        _seen("TripGenAvailabilityBelowSLA", started + timedelta(seconds=3)),
        _seen("TripGenErrorRateHigh", started - timedelta(minutes=2)),  # the previous fault's
    ]
    monkeypatch.setattr(expectations, "alerts_during", lambda *a, **k: seen)
    check = expectations.check_alerts(
        {"fire": ["availability"], "quiet": ["error-rate", "pod-restarts"]},
        sla="prod",
        prometheus_url="http://prometheus",
        started=started,
        ended=started + timedelta(seconds=30),
        settle_s=0,
    )
    assert check.problems == []
    wrong = expectations.check_alerts(
        {"fire": ["cpu"], "quiet": ["availability"]},
        sla="prod",
        prometheus_url="http://prometheus",
        started=started,
        ended=started + timedelta(seconds=30),
        settle_s=0,
    )
    assert any("cpu (TripGenCpuHigh) should fire" in p for p in wrong.problems)
    assert any("availability" in p and "must not" in p for p in wrong.problems)
    unchecked = expectations.check_alerts(
        {"quiet": ["availability"]}, sla="prod", prometheus_url=None, started=started,
        ended=started, settle_s=0,
    )  # fmt: skip
    assert unchecked.problems == [] and "not checked" in unchecked.notes[0]


def test_missing_injections_match_event_globs() -> None:
    now = datetime.now(UTC)
    events = [ChaosEvent(name="kill-replica/user", started_at=now)]
    assert expectations.missing_injections(["kill-replica/*"], events) == []
    assert expectations.missing_injections(["zone-outage/*"], events) == ["zone-outage/*"]


class _Verdict:
    def __init__(self, objective_id: str, outcome: str) -> None:
        self.objective_id = objective_id
        self.outcome = outcome
        self.scope = "run"


def test_the_report_shows_fired_alerts_and_disagreements_with_the_judge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    monkeypatch.setattr(
        sla_alerts,
        "alerts_during",
        lambda *a, **k: [_seen("TripGenAvailabilityBelowSLA", started + timedelta(seconds=9))],
    )
    sla_alerts.record_alerts(tmp_path, "http://prometheus", started, started + timedelta(minutes=5))
    verdicts = [_Verdict("alert-availability", "PASS"), _Verdict("alert-error-rate", "PASS")]
    lines = "\n".join(sla_alerts.alerts_section(tmp_path, verdicts, load_spec("prod")))
    assert "| `TripGenAvailabilityBelowSLA` |" in lines
    assert "firing (location)" in lines
    assert "**DISAGREE**: the alert fired, the judge passed" in lines
    assert "| `TripGenErrorRateHigh` | error rate > 1% (5 min) | quiet |" in lines
    assert "1 disagreement(s)" in lines


def test_the_report_says_when_alerts_could_not_be_read(tmp_path: Path) -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    sla_alerts.record_alerts(tmp_path, None, started, started)
    lines = sla_alerts.alerts_section(tmp_path, [], load_spec("prod"))
    assert any("Alerts could not be read" in line for line in lines)

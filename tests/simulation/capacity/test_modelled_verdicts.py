"""sla-check's scale verdicts from the capacity validation: MODELLED PASS/FAIL with the
predicted value and the validation's errors instead of NO-DATA, only for a recent validation on
this machine; the gate policy decides whether a modelled verdict may open the gate; the report
says which verdicts were measured and which modelled."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from runs.results import EndpointStats, LoadResults, Machine
from runs.spec import load_spec
from scenarios.sla.judge import (
    NoDataPolicy,
    Outcome,
    Verdict,
    blocking,
    exit_code,
    gate_passed,
    judge,
    print_verdicts,
)
from scenarios.sla.report import write_report
from simulation.capacity.evidence import (
    VALIDATION_ENV,
    StepComparison,
    Validation,
    recent_validation,
)

MACHINE = Machine(cores=2, hostname="capacity-test-host", system="Linux")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def validation(
    throughput: float = 1000.0, errors: dict[str, float] | None = None, **fields: Any
) -> Validation:
    phase = {
        "scenario": "prod: 1,000 req/s",
        "description": "test",
        "target_rps": 1000.0,
        "users": 50_000,
        "throughput_rps": throughput,
        "offered_rps": 1000.0,
        "error_rate": 0.0,
        "general_p95_ms": 38.0,
        "ai_p95_ms": 2900.0,
        "max_replicas": {"location": 7},
        "max_nodes": 7,
        "breaks": [],
        "checks": [],
    }
    step = StepComparison(
        name="held-out load", role="held-out", users=80, replicas={"user": 3}, results="r.json",
        measured={"throughput": 40.0}, predicted={"throughput": 41.0}, errors={"throughput": 0.025},
    )  # fmt: skip
    values: dict[str, Any] = {
        "created_at": T0,
        "machine": MACHINE,
        "steps": [step],
        "max_errors": errors
        or {"throughput": 0.03, "utilisation": -0.06, "mean_latency": 0.12, "p95_latency": 0.3},
        "workload": {},
        "phases": {"prod": phase},
    }
    values.update(fields)
    return Validation(**values)


def endpoint(name: str, requests: int) -> EndpointStats:
    return EndpointStats(
        method="GET", name=name, requests=requests, failures=0, mean_ms=10, min_ms=1,
        max_ms=50, median_ms=9, percentiles_ms={"50": 9, "95": 30}, p95_ms=30,
        rps=requests / 60, failures_per_s=0,
    )  # fmt: skip


def results(profile: str = "prod", machine: Machine = MACHINE) -> LoadResults:
    e = endpoint("/api/users/me", 1200)  # 20 rps: a laptop, far below 1,000 TPS
    return LoadResults(
        profile=profile, platform="local", users=50, duration_s=60, started_at=T0,
        ended_at=T0 + timedelta(seconds=60), machine=machine, endpoints=[e],
        totals=endpoint("Aggregated", 1200),
    )  # fmt: skip


def throughput(verdicts: list[Verdict]) -> Verdict:
    return next(v for v in verdicts if v.objective_id == "throughput")


def test_a_recent_validation_models_the_throughput_objective() -> None:
    spec = load_spec("prod")
    verdict = throughput(judge(results(), spec, evidence=validation()))
    assert verdict.outcome is Outcome.PASS and verdict.basis == "modelled"
    assert verdict.mark == "MODELLED PASS"
    assert verdict.modelled is not None and verdict.modelled.predicted == 1000.0
    assert "50,000 concurrent users" in verdict.reason
    assert "throughput 3%" in verdict.reason and "mean latency 12%" in verdict.reason
    assert "measured here: 20 rps" in verdict.reason
    failing = throughput(judge(results(), spec, evidence=validation(throughput=640.0)))
    assert failing.mark == "MODELLED FAIL"
    # All of the offered 1,000 served, short by the simulation's rounding: met.
    rounded = throughput(judge(results(), spec, evidence=validation(throughput=999.6)))
    assert rounded.mark == "MODELLED PASS"
    short = throughput(judge(results(), spec, evidence=validation(throughput=990.0)))
    assert short.mark == "MODELLED FAIL"
    # Every other objective is still judged on the run alone.
    others = [v for v in judge(results(), spec, evidence=validation()) if v.modelled]
    assert [v.objective_id for v in others] == ["throughput"]


def test_without_a_validation_or_on_another_profile_it_stays_no_data() -> None:
    spec = load_spec("prod")
    plain = throughput(judge(results(), spec, evidence=None))
    assert plain.outcome is Outcome.NO_DATA and plain.modelled is None
    dev_run = throughput(judge(results(profile="dev"), spec, evidence=validation()))
    assert dev_run.outcome is Outcome.NO_DATA
    assert "deployed 'dev'" in dev_run.reason


def test_only_a_recent_validation_of_this_machine_counts(tmp_path: Path) -> None:
    path = validation().save(tmp_path / "validation.json")
    now = T0 + timedelta(days=1)
    found, why = recent_validation(MACHINE, path, now)
    assert found is not None and why == ""
    other = Machine(cores=8, hostname="elsewhere", system="Linux")
    assert recent_validation(other, path, now)[0] is None
    assert "elsewhere" not in recent_validation(other, path, now)[1]
    stale, why = recent_validation(MACHINE, path, T0 + timedelta(days=30))
    assert stale is None and "30 days old" in why
    missing, why = recent_validation(MACHINE, tmp_path / "none.json", now)
    assert missing is None and "absent" in why


def test_judge_reads_the_validation_file_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = validation(created_at=datetime.now(UTC)).save(tmp_path / "v.json")
    monkeypatch.setenv(VALIDATION_ENV, str(path))
    assert throughput(judge(results(), load_spec("prod"))).mark == "MODELLED PASS"
    monkeypatch.setenv(VALIDATION_ENV, str(tmp_path / "absent.json"))
    verdict = throughput(judge(results(), load_spec("prod")))
    assert verdict.outcome is Outcome.NO_DATA and "no capacity validation" in verdict.reason


def test_gate_policy_decides_whether_modelled_verdicts_open_it() -> None:
    spec = load_spec("prod")
    run = results()
    verdicts = [v for v in judge(run, spec, evidence=validation()) if v.objective_id in
                ("throughput", "error-rate", "general-api-p95")]  # fmt: skip
    assert {v.outcome for v in verdicts} == {Outcome.PASS}
    assert not gate_passed(verdicts, NoDataPolicy.FAIL)  # modelled is not measured
    assert gate_passed(verdicts, NoDataPolicy.MODEL)
    assert gate_passed(verdicts, NoDataPolicy.ALLOW)
    failing = [throughput(judge(run, spec, evidence=validation(throughput=500.0)))]
    assert not gate_passed(failing, NoDataPolicy.MODEL)
    assert not gate_passed(failing, NoDataPolicy.ALLOW)
    assert exit_code(failing) == 0  # a prediction is not this run failing
    untrusted = [
        throughput(
            judge(run, spec, evidence=validation(errors={"throughput": 0.25, "mean_latency": 0.1}))
        )
    ]
    assert untrusted[0].outcome is Outcome.PASS
    assert "MISSED its error goals" in untrusted[0].reason
    assert [v.objective_id for v in blocking(untrusted, NoDataPolicy.MODEL)] == ["throughput"]


def test_console_and_report_say_what_was_modelled(tmp_path: Path) -> None:
    spec = load_spec("prod")
    run = results()
    verdicts = judge(run, spec, evidence=validation())
    buffer = io.StringIO()
    print_verdicts(verdicts, console=Console(file=buffer, width=100, color_system=None),
                   policy=NoDataPolicy.MODEL)  # fmt: skip
    assert "modelled, not measured: throughput" in " ".join(buffer.getvalue().split())
    paths = write_report(run, verdicts, tmp_path / "report", spec=spec,
                         policy=NoDataPolicy.MODEL, gate_root=tmp_path / "gate")  # fmt: skip
    markdown = paths.markdown.read_text()
    assert "**MODELLED PASS**" in markdown
    assert "modelled by the capacity simulation, not measured: `throughput`" in markdown
    html = paths.html.read_text()
    assert '<span class="verdict verdict-modelled">MODELLED PASS</span>' in html
    assert paths.gate is not None
    gate = json.loads(paths.gate.read_text())
    assert gate["modelled"] == ["throughput"] and gate["no_data_policy"] == "model"

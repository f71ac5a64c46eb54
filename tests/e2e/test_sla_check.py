"""A short `sla-check` on the local platform end to end, as CI runs it: it deploys prod-sim in
its own run directory, drives the journeys with the steady prober, judges every objective of
`runs/specs/prod.yaml`, writes report.md, report.html and the gate file, and stops what it
started (`--down-after`).

It runs `python -m chaos.sla_check`, what `nox -s sla-check` runs. The exit code must be the
one the run's own verdicts imply (1 when a gating objective failed, else 0); a harness error
(exit 2, a traceback, a locustfile exception, a missing file) fails the test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runs.results import LoadResults
from runs.spec import load_spec
from scenarios.sla.gate import Gate
from scenarios.sla.judge import exit_code, judge
from simulation.backing import BinariesMissingError, ensure_binaries, is_ci
from simulation.capacity.calibration import service_of

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
VERDICT = re.compile(r"(PASS|FAIL|NO-DATA)")


@pytest.fixture(scope="module", autouse=True)
def binaries() -> None:
    try:
        ensure_binaries()
    except BinariesMissingError as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def sla_check(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    run_dir = tmp_path_factory.mktemp("sla-check")
    command = [
        sys.executable, "-m", "chaos.sla_check", "--run-dir", str(run_dir),
        "--profile", "prod", "--platform", "local",
        "--users", "10", "--spawn-rate", "5", "--duration", "40s", "--down-after",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=420, check=False
        )
    finally:
        if (run_dir / "state.json").exists():  # a crash must not leave the deployment running
            subprocess.run(
                [sys.executable, "-m", "simulation.cli", "--run-dir", str(run_dir), "down"],
                cwd=REPO_ROOT,
                timeout=120,
                check=False,
            )
    return run_dir, done


def _run_folder(run_dir: Path) -> Path:
    folders = sorted((run_dir / "runs").glob("*-prod"))
    assert len(folders) == 1, folders
    return folders[0]


def test_exit_code_is_a_verdict_not_a_harness_error(
    sla_check: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    run_dir, done = sla_check
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert "error:" not in output
    results = LoadResults.load(_run_folder(run_dir) / "results.json")
    implied = exit_code(judge(results, load_spec("prod")))
    assert done.returncode == implied, output[-3000:]


def test_report_files_and_gate_are_written(
    sla_check: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    run_dir, done = sla_check
    folder = _run_folder(run_dir)
    for name in ("report.md", "report.html", "results.json", "locust.html", "locust_stats.csv"):
        assert (folder / name).is_file(), name
        assert f"{folder / name}" in done.stdout or name not in ("report.md", "report.html")
    gate = Gate.model_validate_json((run_dir / "gate" / "prod.json").read_text())
    assert gate.platform == "local"
    assert Path(gate.report) == (folder / "report.md").resolve()
    assert gate.passed is (done.returncode == 0 and not gate.blocking)
    assert str(run_dir / "gate" / "prod.json") in done.stdout


def test_every_objective_has_a_verdict(
    sla_check: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    run_dir, _ = sla_check
    report = (_run_folder(run_dir) / "report.md").read_text()
    rows = {
        line.split("|")[1].strip(): line for line in report.splitlines() if line.startswith("| ")
    }
    spec = load_spec("prod")
    for objective in spec.objectives:
        row = next((r for key, r in rows.items() if key.split(" ")[0] == objective.id), None)
        assert row is not None, f"no verdict row for {objective.id}"
        assert VERDICT.search(row), row
    assert "**Scale measured:** platform `local`" in report
    assert "10 users" in report and "user 3" in report  # scale and replicas are stated
    gate = json.loads((run_dir / "gate" / "prod.json").read_text())
    assert sum(gate["counts"].values()) == sum(o.gating for o in spec.objectives)


def test_results_hold_what_the_judge_and_the_capacity_model_read(
    sla_check: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    run_dir, _ = sla_check
    results = LoadResults.load(_run_folder(run_dir) / "results.json")
    assert results.exceptions == [], "the locustfile raised"
    assert results.totals.requests > 50
    for endpoint in results.endpoints:
        assert service_of(endpoint.name) is not None, endpoint.name
        assert endpoint.name.startswith("/api/")
    for service in ("user", "trip", "location"):
        assert results.resource_usage[service].cpu_seconds > 0, service
        assert results.resource_usage[service].replicas == results.replicas[service]
    assert results.custom_metrics["cache_hit_ratio"].samples, "no cache samples"
    assert results.probes and all(p.ok for p in results.probes[:5])
    # The prober stays within the API's per-user limit: a 429 would count as unavailability.
    limited = [p for p in results.probes if p.status == 429]
    assert not limited, f"{len(limited)} of {len(results.probes)} probes rate-limited"


def test_down_after_left_nothing_deployed(
    sla_check: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    run_dir, done = sla_check
    assert not (run_dir / "state.json").exists()
    assert "--down-after" in done.stderr

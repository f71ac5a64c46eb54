"""`python -m simulation.cli`: user mistakes end in one `error:` line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulation import cli
from simulation.platforms.runner import RecordingRunner, ok
from simulation.state import DeploymentState, save_state

REPO_ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str, run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulation.cli", "--run-dir", str(run_dir), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


def test_status_with_nothing_deployed_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("status", run_dir=tmp_path)
    assert result.returncode == 1
    assert "error: nothing is deployed" in result.stderr
    assert "Traceback" not in result.stderr


def test_down_with_nothing_deployed_is_fine(tmp_path: Path) -> None:
    result = run_cli("down", run_dir=tmp_path)
    assert result.returncode == 0
    assert "nothing is deployed" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy", "--profile", "staging"], "invalid choice: 'staging'"),
        (["deploy"], "the following arguments are required: --profile"),
        (["deploy", "--profile", "dev", "--platform", "minikube"], "invalid choice: 'minikube'"),
        (["deploy", "--profile", "dev", "--services", "user,payments"], "payments"),
        (["deploy", "--profile", "dev", "--env", "NOEQUALS"], "KEY=VALUE"),
        (["deploy-aks"], "--kube-context"),
        (["kill-replica", "payments"], "invalid choice"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, run_dir=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_chaos_on_an_unknown_zone_is_a_clear_error(tmp_path: Path) -> None:
    save_state(
        tmp_path,
        DeploymentState("kind", "prod", "http://127.0.0.1", details={"cluster": "x"}),
    )
    result = run_cli("zone-outage", "zone-9", run_dir=tmp_path)
    assert result.returncode == 1
    assert "unknown zone 'zone-9'" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_state_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{")
    result = run_cli("status", run_dir=tmp_path)
    assert result.returncode == 1
    assert "state.json is unreadable" in result.stderr


def test_deploy_aks_refuses_without_a_passed_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = RecordingRunner(tools={"kubectl", "helm"})
    runner.respond(["kubectl", "config", "get-contexts"], ok("aks-prod\n"))
    monkeypatch.setattr(cli, "default_runner", lambda: runner)
    code = cli.main(["--run-dir", str(tmp_path), "deploy-aks", "--kube-context", "aks-prod"])
    assert code == 1
    assert "refusing to deploy to AKS" in capsys.readouterr().err
    assert not [c for c in runner.commands if c[0] == "helm"]


def test_deploy_on_kind_reports_missing_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = RecordingRunner(tools={"docker"})
    monkeypatch.setattr(cli, "default_runner", lambda: runner)
    code = cli.main(
        ["--run-dir", str(tmp_path), "deploy", "--profile", "prod", "--platform", "kind"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "platform: kind (asked for with --platform)" in err
    assert "missing prerequisite tool(s): kind, kubectl, helm" in err


def test_endpoints_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_state(
        tmp_path,
        DeploymentState("kind", "prod", "http://127.0.0.1", {"user": "http://127.0.0.1"}),
    )
    assert cli.main(["--run-dir", str(tmp_path), "endpoints"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["base_url"] == "http://127.0.0.1"

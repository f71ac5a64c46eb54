"""deploy-aks, with a recording runner: gated on the prod SLA report, explicit context, --atomic.

No AKS cluster is reachable from this repository's CI; the command sequence is what is tested.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from simulation.platforms.aks import AksPlatform, read_gate
from simulation.platforms.base import PlatformError, Unsupported
from simulation.platforms.kind import REPO_ROOT
from simulation.platforms.runner import RecordingRunner, failed, ok

CHART = REPO_ROOT / "charts" / "tripgen"
CONTEXT = "tripgen-prod-aks"


def write_gate(run_dir: Path, **gate: object) -> None:
    path = run_dir / "gate" / "prod.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(gate))


@pytest.fixture
def printed() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def console(printed: io.StringIO) -> Console:
    return Console(file=printed, width=200)


@pytest.fixture
def runner() -> RecordingRunner:
    r = RecordingRunner(tools={"kubectl", "helm"})
    r.respond(["kubectl", "config", "get-contexts"], ok(f"kind-x\n{CONTEXT}\n"))
    return r


def aks(
    tmp_path: Path, runner: RecordingRunner, console: Console, *, force: bool = False
) -> AksPlatform:
    return AksPlatform(tmp_path, runner=runner, kube_context=CONTEXT, console=console, force=force)


HELM_UPGRADE = (
    "helm", "upgrade", "--install", "tripgen", str(CHART), "--namespace", "tripgen",
    "--create-namespace", "--values", str(CHART / "values-prod.yaml"), "--atomic", "--wait",
    "--wait-for-jobs", "--timeout=900s", "--kube-context", CONTEXT,
)  # fmt: skip


def test_refuses_without_an_sla_report(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    with pytest.raises(PlatformError, match="no SLA gate") as caught:
        aks(tmp_path, runner, console).deploy("prod")
    assert "sla-check" in str(caught.value)
    assert not [c for c in runner.commands if c[0] == "helm"]


def test_refuses_when_the_latest_report_failed(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    write_gate(tmp_path, passed=False, platform="local", failed=["p95_ms general API"])
    with pytest.raises(PlatformError, match=r"did not pass.*p95_ms general API"):
        aks(tmp_path, runner, console).deploy("prod")
    assert not [c for c in runner.commands if c[0] == "helm"]


def test_a_passed_gate_deploys_atomically_to_the_explicit_context(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    write_gate(tmp_path, passed=True, platform="local", generated_at="2026-11-22T06:00:00Z")
    runner.respond(
        ["kubectl", "--context", CONTEXT, "--namespace", "tripgen", "get", "ingress"],
        ok(json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}}})),
    )
    endpoints = aks(tmp_path, runner, console).deploy("prod")
    assert runner.commands == [
        ("kubectl", "config", "get-contexts", "--output=name"),
        HELM_UPGRADE,
        ("kubectl", "--context", CONTEXT, "--namespace", "tripgen", "get", "ingress", "tripgen",
         "--output", "json"),
    ]  # fmt: skip
    assert endpoints.base_url == "https://20.1.2.3"
    record = json.loads((tmp_path / "aks" / "last-deploy.json").read_text())
    assert record["context"] == CONTEXT
    assert record["forced"] is False


def test_force_overrides_the_gate_with_a_warning(
    tmp_path: Path, runner: RecordingRunner, console: Console, printed: io.StringIO
) -> None:
    write_gate(tmp_path, passed=False)
    runner.respond(["kubectl", "--context", CONTEXT], ok(json.dumps({"status": {}})))
    with pytest.raises(PlatformError, match="no address yet"):
        aks(tmp_path, runner, console, force=True).deploy("prod")
    assert HELM_UPGRADE in runner.commands
    assert "--force: deploying although" in printed.getvalue()


def test_an_unknown_context_is_refused(tmp_path: Path, console: Console) -> None:
    runner = RecordingRunner(tools={"kubectl", "helm"})
    runner.respond(["kubectl", "config", "get-contexts"], ok("kind-x\n"))
    write_gate(tmp_path, passed=True)
    with pytest.raises(PlatformError, match="not in your kubeconfig"):
        aks(tmp_path, runner, console).deploy("prod")


def test_a_failed_upgrade_is_rolled_back_and_explained(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    write_gate(tmp_path, passed=True)
    runner.respond(["helm", "upgrade"], failed("Error: release tripgen failed, rolled back"))
    runner.respond(
        ["kubectl", "--context", CONTEXT, "--namespace", "tripgen", "get", "pods"],
        ok(json.dumps({"items": []})),
    )
    with pytest.raises(PlatformError, match="rolled back"):
        aks(tmp_path, runner, console).deploy("prod")


def test_dry_run_only_renders(tmp_path: Path, console: Console, printed: io.StringIO) -> None:
    runner = RecordingRunner(tools={"helm"})
    manifests = "kind: Deployment\nmetadata: {name: a}\n---\nkind: Service\nmetadata: {name: a}\n"
    runner.respond(["helm", "template"], ok(manifests))
    out = aks(tmp_path, runner, console).render()
    assert runner.commands == [
        ("helm", "template", "tripgen", str(CHART), "--namespace", "tripgen",
         "--values", str(CHART / "values-prod.yaml")),
    ]  # fmt: skip
    assert out.read_text() == manifests
    text = printed.getvalue()
    assert "rendered 2 manifests (1 Deployment, 1 Service)" in text
    assert "no SLA gate" in text  # the gate is reported, not enforced, by a dry run


def test_only_prod_goes_to_aks(tmp_path: Path, runner: RecordingRunner, console: Console) -> None:
    with pytest.raises(PlatformError, match="prod profile only"):
        aks(tmp_path, runner, console).deploy("dev")


def test_no_chaos_and_no_teardown_against_production(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    platform = aks(tmp_path, runner, console)
    with pytest.raises(Unsupported):
        platform.kill_replica("user")
    with pytest.raises(Unsupported):
        platform.zone_outage("zone-1")
    with pytest.raises(Unsupported):
        platform.stop_dependency("redis")
    with pytest.raises(Unsupported, match="helm uninstall"):
        platform.down()
    assert runner.commands == []


def test_gate_reader_handles_broken_files(tmp_path: Path) -> None:
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "prod.json").write_text("{")
    verdict = read_gate(tmp_path)
    assert not verdict.passed
    assert "unreadable" in verdict.detail

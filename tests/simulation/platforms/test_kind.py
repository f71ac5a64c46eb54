"""The kind platform, with a recording runner: the exact commands and their order.

No kind binary, node image or Kubernetes API server exists where these tests run, so the commands
are recorded and answered from canned output, not executed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from simulation.k8s import topology
from simulation.platforms.base import NotDeployed, PlatformError
from simulation.platforms.kind import (
    IMAGE,
    INGRESS_NGINX_MANIFEST,
    METRICS_SERVER_CHART_REPO,
    METRICS_SERVER_CHART_VERSION,
    REPO_ROOT,
    KindPlatform,
    expected_zones,
    host_platform,
)
from simulation.platforms.runner import RecordingRunner, failed, ok
from simulation.state import load_state

CTX = "kind-tripgen-prod-sim"
CLUSTER = "tripgen-prod-sim"
CHART = REPO_ROOT / "charts" / "tripgen"
ZONE = topology.ZONE_LABEL


def nodes_json(zones: dict[str, str]) -> str:
    items = [{"metadata": {"name": "tripgen-prod-sim-control-plane", "labels": {}}}]
    items += [{"metadata": {"name": n, "labels": {ZONE: z}}} for n, z in zones.items()]
    return json.dumps({"items": items})


def pod(name: str, service: str, node: str, *, ready: bool = True, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": service}},
        "spec": {"nodeName": node},
        "status": {
            "phase": status.get("phase", "Running"),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": status.get("containerStatuses", []),
        },
    }


@pytest.fixture
def printed() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def console(printed: io.StringIO) -> Console:
    return Console(file=printed, width=200)


@pytest.fixture
def runner() -> RecordingRunner:
    r = RecordingRunner()
    r.respond(["docker", "info"], ok("28.2.2"))
    zones = expected_zones("prod")
    zones["tripgen-prod-sim-worker5"] = "koreacentral-3"  # a node kind labelled wrongly
    r.respond(["kubectl", "--context", CTX, "get", "nodes"], ok(nodes_json(zones)))
    return r


def kind(tmp_path: Path, runner: RecordingRunner, console: Console) -> KindPlatform:
    return KindPlatform(tmp_path, runner=runner, console=console)


def test_expected_zones_follow_the_generated_config() -> None:
    zones = expected_zones("prod")
    # SPEC.md › Compute, prod v2: 3 system nodes over zones 1-3, 6 application nodes 2 per zone.
    assert len(zones) == 9
    assert zones["tripgen-prod-sim-worker"] == "koreacentral-1"
    assert zones["tripgen-prod-sim-worker3"] == "koreacentral-3"
    assert list(zones.values())[3:] == [f"koreacentral-{i}" for i in (1, 1, 2, 2, 3, 3)]


def test_cluster_up_runs_the_documented_sequence(
    tmp_path: Path, runner: RecordingRunner, console: Console, printed: io.StringIO
) -> None:
    kind(tmp_path, runner, console).up("prod")
    config = tmp_path / "kind" / "prod-sim.yaml"
    assert config.read_text() == topology.kind_config_yaml("prod-sim")
    assert runner.commands == [
        ("docker", "info", "--format", "{{.ServerVersion}}"),
        ("kind", "get", "clusters"),
        ("kind", "create", "cluster", "--name", CLUSTER, "--config", str(config),
         "--wait", "180s"),
        ("kubectl", "--context", CTX, "get", "nodes", "--output", "json"),
        ("kubectl", "--context", CTX, "label", "node", "tripgen-prod-sim-worker5",
         f"{ZONE}=koreacentral-1", "--overwrite"),
        ("helm", "upgrade", "--install", "metrics-server", "metrics-server",
         "--repo", METRICS_SERVER_CHART_REPO, "--version", METRICS_SERVER_CHART_VERSION,
         "--namespace", "kube-system", "--set", "args[0]=--kubelet-insecure-tls",
         "--wait", "--timeout=300s", "--kube-context", CTX),
        ("kubectl", "--context", CTX, "apply", "--filename", INGRESS_NGINX_MANIFEST),
        ("kubectl", "--context", CTX, "wait", "--namespace", "ingress-nginx",
         "--for=condition=ready", "pod", "--selector=app.kubernetes.io/component=controller",
         "--timeout=300s"),
    ]  # fmt: skip
    assert "relabelling tripgen-prod-sim-worker5" in printed.getvalue()


def test_addons_are_pinned_and_fetched_from_upstream_by_version() -> None:
    assert METRICS_SERVER_CHART_VERSION.count(".") == 2
    assert METRICS_SERVER_CHART_REPO == "https://kubernetes-sigs.github.io/metrics-server/"
    assert INGRESS_NGINX_MANIFEST.startswith(
        "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v"
    )
    assert INGRESS_NGINX_MANIFEST.endswith("/deploy/static/provider/kind/deploy.yaml")


def test_an_existing_cluster_is_reused(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    runner.respond(["kind", "get", "clusters"], ok(f"{CLUSTER}\nother\n"))
    kind(tmp_path, runner, console).up("prod")
    assert not [c for c in runner.commands if c[:3] == ("kind", "create", "cluster")]


def test_deploy_builds_loads_with_fallback_and_installs_the_chart(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    runner.respond(["kind", "get", "clusters"], ok(f"{CLUSTER}\n"))
    runner.respond(["kind", "load", "docker-image"], failed("ctr: content digest not found"))
    workloads = {
        "items": [
            {"kind": "Deployment", "metadata": {"name": "tripgen-user"}},
            {"kind": "StatefulSet", "metadata": {"name": "tripgen-postgresql"}},
        ]
    }
    runner.respond(
        ["kubectl", "--context", CTX, "--namespace", "tripgen", "get", "deployments,statefulsets"],
        ok(json.dumps(workloads)),
    )
    endpoints = kind(tmp_path, runner, console).deploy("prod")

    archive = tmp_path / "kind" / "tripgen-image.tar"
    assert runner.commands == [
        ("docker", "info", "--format", "{{.ServerVersion}}"),
        ("kind", "get", "clusters"),
        ("docker", "build", "--tag", IMAGE, "--file", str(REPO_ROOT / "Dockerfile"),
         str(REPO_ROOT)),
        ("kind", "load", "docker-image", IMAGE, "--name", CLUSTER),
        ("docker", "save", "--platform", host_platform(), "--output", str(archive), IMAGE),
        ("kind", "load", "image-archive", str(archive), "--name", CLUSTER),
        ("helm", "upgrade", "--install", "tripgen", str(CHART), "--namespace", "tripgen",
         "--create-namespace", "--values", str(CHART / "values-prod.yaml"),
         "--values", str(CHART / "values-kind.yaml"), "--wait", "--wait-for-jobs",
         "--timeout=900s", "--kube-context", CTX),
        ("kubectl", "--context", CTX, "--namespace", "tripgen", "get",
         "deployments,statefulsets", "--selector", "app.kubernetes.io/instance=tripgen",
         "--output", "json"),
        ("kubectl", "--context", CTX, "--namespace", "tripgen", "rollout", "status",
         "deployment/tripgen-user", "--timeout=300s"),
        ("kubectl", "--context", CTX, "--namespace", "tripgen", "rollout", "status",
         "statefulset/tripgen-postgresql", "--timeout=300s"),
    ]  # fmt: skip
    assert all(t is not None for t in runner.timeouts)  # every command has a timeout
    state = load_state(tmp_path)
    assert state is not None
    assert (state.platform, state.profile, state.base_url) == ("kind", "prod", "http://127.0.0.1")
    assert state.details["context"] == CTX
    assert endpoints.base_url == "http://127.0.0.1"
    assert set(endpoints.services) == {"user", "trip", "ai", "location"}


def test_deploy_without_a_cluster_creates_it_first(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    runner.respond(["kind", "get", "clusters"], ok(""), ok(""), ok("tripgen-dev-sim\n"))
    runner.respond(
        ["kubectl", "--context", "kind-tripgen-dev-sim", "get", "nodes"],
        ok(nodes_json(expected_zones("dev"))),
    )
    kind(tmp_path, runner, console).deploy("dev")
    creates = [c for c in runner.commands if c[:3] == ("kind", "create", "cluster")]
    assert creates and creates[0][4] == "tripgen-dev-sim"
    helm = next(c for c in runner.commands if c[:4] == ("helm", "upgrade", "--install", "tripgen"))
    assert str(CHART / "values-dev.yaml") in helm
    assert helm.index(str(CHART / "values-dev.yaml")) < helm.index(str(CHART / "values-kind.yaml"))
    # kind load succeeded: no fallback
    assert not [c for c in runner.commands if c[:2] == ("docker", "save")]


def test_a_failed_rollout_prints_failing_pods_and_their_events(
    tmp_path: Path, runner: RecordingRunner, console: Console
) -> None:
    runner.respond(["kind", "get", "clusters"], ok(f"{CLUSTER}\n"))
    runner.respond(["helm", "upgrade", "--install", "tripgen"], failed("Error: context deadline"))
    crashing = pod(
        "tripgen-trip-7d9-abc",
        "trip",
        "tripgen-prod-sim-worker4",
        ready=False,
        containerStatuses=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
    )
    healthy = pod("tripgen-user-5f-xyz", "user", "tripgen-prod-sim-worker5")
    base = ["kubectl", "--context", CTX, "--namespace", "tripgen"]
    runner.respond([*base, "get", "pods"], ok(json.dumps({"items": [crashing, healthy]})))
    runner.respond([*base, "get", "events"], ok("12s Warning BackOff pod/tripgen-trip-7d9-abc"))
    runner.respond([*base, "logs"], ok("psycopg.OperationalError: connection refused"))
    with pytest.raises(PlatformError) as caught:
        kind(tmp_path, runner, console).deploy("prod")
    message = str(caught.value)
    assert "context deadline" in message
    assert "tripgen-trip-7d9-abc (Running, CrashLoopBackOff)" in message
    assert "Warning BackOff" in message
    assert "connection refused" in message
    assert "tripgen-user-5f-xyz" not in message
    assert (
        *base, "get", "events", "--field-selector", "involvedObject.name=tripgen-trip-7d9-abc",
        "--sort-by=.lastTimestamp",
    ) in runner.commands  # fmt: skip
    assert load_state(tmp_path) is None


def test_missing_tools_are_named_with_how_to_install_them(tmp_path: Path, console: Console) -> None:
    runner = RecordingRunner(tools={"docker", "kubectl"})
    with pytest.raises(PlatformError) as caught:
        kind(tmp_path, runner, console).up("prod")
    message = str(caught.value)
    assert "missing prerequisite tool(s): kind, helm" in message
    assert "go install sigs.k8s.io/kind" in message
    assert "python -m simulation.k8s.helm" in message
    assert runner.commands == []


def test_a_docker_without_daemon_is_explained(tmp_path: Path, console: Console) -> None:
    runner = RecordingRunner()
    runner.respond(["docker", "info"], failed("Cannot connect to the Docker daemon"))
    with pytest.raises(PlatformError, match="no Docker daemon answers"):
        kind(tmp_path, runner, console).deploy("prod")


def test_cluster_down_deletes_only_existing_tripgen_clusters(
    tmp_path: Path, console: Console
) -> None:
    runner = RecordingRunner()
    runner.respond(["kind", "get", "clusters"], ok(f"{CLUSTER}\nsomeone-elses\n"))
    deleted = kind(tmp_path, runner, console).delete_clusters()
    assert deleted == [CLUSTER]
    assert runner.commands == [
        ("kind", "get", "clusters"),
        ("kind", "delete", "cluster", "--name", CLUSTER),
    ]


@pytest.fixture
def deployed(tmp_path: Path, runner: RecordingRunner, console: Console) -> KindPlatform:
    runner.respond(["kind", "get", "clusters"], ok(f"{CLUSTER}\n"))
    platform = kind(tmp_path, runner, console)
    platform.deploy("prod")
    runner.commands.clear()
    runner.respond(
        ["kubectl", "--context", CTX, "get", "nodes"], ok(nodes_json(expected_zones("prod")))
    )
    pods = [
        pod("tripgen-trip-a", "trip", "tripgen-prod-sim-worker4"),
        pod("tripgen-trip-b", "trip", "tripgen-prod-sim-worker6"),
    ]
    runner.respond(
        ["kubectl", "--context", CTX, "--namespace", "tripgen", "get", "pods"],
        ok(json.dumps({"items": pods})),
    )
    return platform


def test_kill_replica_force_deletes_one_pod(
    deployed: KindPlatform, runner: RecordingRunner
) -> None:
    killed = deployed.kill_replica("trip")
    assert (killed.replica, killed.zone, killed.pid) == ("tripgen-trip-a", "koreacentral-1", None)
    assert runner.commands[-1] == (
        "kubectl", "--context", CTX, "--namespace", "tripgen", "delete", "pod",
        "tripgen-trip-a", "--grace-period=0", "--force", "--wait=false",
    )  # fmt: skip


def test_zone_outage_cordons_and_drains_and_reports_a_blocked_drain(
    deployed: KindPlatform, runner: RecordingRunner, printed: io.StringIO, tmp_path: Path
) -> None:
    runner.respond(
        ["kubectl", "--context", CTX, "drain", "tripgen-prod-sim-worker7"],
        failed("Cannot evict pod as it would violate the pod's disruption budget."),
    )
    nodes = deployed.zone_outage("zone-2")
    assert nodes == [
        "tripgen-prod-sim-worker2",
        "tripgen-prod-sim-worker6",
        "tripgen-prod-sim-worker7",
    ]
    cordons = [c for c in runner.commands if "cordon" in c]
    drains = [c for c in runner.commands if "drain" in c]
    assert len(cordons) == 3
    assert len(drains) == 3
    assert runner.commands.index(cordons[-1]) < runner.commands.index(drains[0])
    assert "--ignore-daemonsets" in drains[0]
    assert "disruption budget" in printed.getvalue()
    state = load_state(tmp_path)
    assert state is not None
    assert "tripgen-prod-sim-worker7" in state.details["blocked_drains"][0]

    runner.commands.clear()
    assert deployed.restore("koreacentral-2") == nodes
    assert [c[3] for c in runner.commands if "uncordon" in c] == ["uncordon"] * 3


def test_dependencies_are_scaled_down_and_up(
    deployed: KindPlatform, runner: RecordingRunner
) -> None:
    deployed.stop_dependency("redis")
    deployed.start_dependency("redis")
    ns = ("kubectl", "--context", CTX, "--namespace", "tripgen")
    assert runner.commands == [
        (*ns, "scale", "statefulset/tripgen-redis", "--replicas=0"),
        (*ns, "wait", "--for=delete", "pod", "--selector", "app=redis", "--timeout=120s"),
        (*ns, "scale", "statefulset/tripgen-redis", "--replicas=1"),
        (*ns, "rollout", "status", "statefulset/tripgen-redis", "--timeout=180s"),
    ]


def test_status_lists_pods_with_zones(deployed: KindPlatform) -> None:
    status = deployed.status()
    assert [(r.replica, r.zone, r.ready) for r in status.replicas] == [
        ("tripgen-trip-a", "koreacentral-1", True),
        ("tripgen-trip-b", "koreacentral-2", True),
    ]


def test_down_uninstalls_the_release_and_keeps_the_cluster(
    deployed: KindPlatform, runner: RecordingRunner, tmp_path: Path
) -> None:
    deployed.down()
    assert runner.commands == [
        ("helm", "uninstall", "tripgen", "--namespace", "tripgen", "--wait", "--kube-context", CTX)
    ]
    assert load_state(tmp_path) is None
    with pytest.raises(NotDeployed):
        deployed.endpoints()

"""The kind platform against a world that behaves like kind, Docker, Helm and the API server.

No kind binary, node image or Kubernetes API server exists where these tests run. Instead of
comparing the commands with canned replies, each test runs the platform against `FakeKindWorld`
(commands answered by what they do) and the fake API server (objects that appear and change
asynchronously), then checks the outcome a real cluster would show.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from simulation.k8s import topology
from simulation.k8s.image import harness_images
from simulation.k8s.kubeapi import KubeApi
from simulation.platforms.base import NotDeployed, PlatformError
from simulation.platforms.kind import KindPlatform, expected_zones
from simulation.state import load_state
from tests.simulation.k8s.fake_kube_api import write_kubeconfig
from tests.simulation.platforms.fake_kind import FakeKindWorld, SchedulingCluster

CLUSTER = "tripgen-prod-sim"
NS = "tripgen"
HPA_MINIMUMS = {"tripgen-user": 3, "tripgen-trip": 3, "tripgen-ai": 2, "tripgen-location": 2}


@pytest.fixture
def printed() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[FakeKindWorld]:
    cluster = SchedulingCluster(pod_ready_after_s=0.1, hpa_after_s=0.3)
    with cluster.serve() as url:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig",
            {"kind-tripgen-prod-sim": url, "kind-tripgen-dev-sim": url},
        )
        world = FakeKindWorld(cluster)
        world.kubeconfig = kubeconfig  # type: ignore[attr-defined]
        yield world


def kind(
    tmp_path: Path,
    world: FakeKindWorld,
    printed: io.StringIO,
    *,
    release_timeout_s: float = 10,
    drain_timeout_s: float = 5,
    **sysctl: int,
) -> KindPlatform:
    kubeconfig = str(world.kubeconfig)  # type: ignore[attr-defined]
    values = {"max_user_watches": 524288, "max_user_instances": 512, **sysctl}
    return KindPlatform(
        tmp_path,
        runner=world,
        console=Console(file=printed, width=200),
        api_factory=lambda context: KubeApi.for_context(context, kubeconfig),
        poll_s=0.05,
        release_timeout_s=release_timeout_s,
        drain_timeout_s=drain_timeout_s,
        sysctl=lambda path: values[path.rsplit("/", 1)[1]],
    )


def pods_of(world: FakeKindWorld, component: str) -> list[dict]:
    return [
        p
        for p in world.cluster.of_kind("Pod")
        if p["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
    ]


def node_of(world: FakeKindWorld, pod: dict) -> dict:
    node = world.cluster.find("Node", pod["spec"]["nodeName"])
    assert node is not None
    return node


def test_expected_zones_follow_the_generated_config() -> None:
    zones = expected_zones("prod")
    # SPEC.md › Compute, prod v2: 3 system nodes over zones 1-3, 6 application nodes 2 per zone.
    assert len(zones) == 9
    assert zones["tripgen-prod-sim-worker"] == "koreacentral-1"
    assert list(zones.values())[3:] == [f"koreacentral-{i}" for i in (1, 1, 2, 2, 3, 3)]


def test_cluster_up_makes_a_labelled_cluster_and_waits_for_ingress_to_exist(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    # ingress-nginx's controller pod appears 0.3 s after `kubectl apply`: an immediate
    # `kubectl wait` fails ("no matching resources found"); the platform waits for it to exist
    world.mislabel = {f"{CLUSTER}-worker5": "koreacentral-3"}
    kind(tmp_path, world, printed).up("prod")
    assert CLUSTER in world.clusters
    nodes = {n["metadata"]["name"]: n for n in world.cluster.of_kind("Node")}
    assert len(nodes) == len(topology.kind_config("prod-sim")["nodes"])
    assert all(
        n["metadata"]["labels"][topology.HARNESS_CLUSTER_LABEL] == CLUSTER for n in nodes.values()
    )
    relabelled = nodes[f"{CLUSTER}-worker5"]["metadata"]["labels"][topology.ZONE_LABEL]
    assert relabelled == "koreacentral-1"
    assert "relabelling tripgen-prod-sim-worker5" in printed.getvalue()
    assert world.cluster.of_kind("Pod")  # the controller pod came, and it was awaited
    assert not [c for c in world.commands if "wait" in c]  # no `kubectl wait` race


def test_preflight_names_what_to_change_before_creating_anything(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    world.docker_info["MemTotal"] = 6 * 2**30
    platform = kind(tmp_path, world, printed, max_user_watches=8192)
    with pytest.raises(PlatformError) as caught:
        platform.up("prod")
    message = str(caught.value)
    assert "sudo sysctl fs.inotify.max_user_watches=524288" in message
    assert "memory available to Docker: 6.0 GiB" in message
    assert "fs.inotify.max_user_instances" not in message  # that one is fine
    assert not world.clusters
    assert not [c for c in world.commands if c[:3] == ("kind", "create", "cluster")]


def test_an_old_kind_is_refused(tmp_path: Path, world: FakeKindWorld, printed: io.StringIO) -> None:
    world.kind_version = "kind v0.20.0 go1.20.4 linux/amd64"
    with pytest.raises(
        PlatformError, match=r"kind: kind v0.20.0 go1.20.4 linux/amd64, needs ≥ 0.27"
    ):
        kind(tmp_path, world, printed).up("prod")


@pytest.fixture
def deployed(tmp_path: Path, world: FakeKindWorld, printed: io.StringIO) -> KindPlatform:
    platform = kind(tmp_path, world, printed, drain_timeout_s=0.5)
    platform.deploy("prod")
    return platform


def test_deploy_returns_only_when_every_hpa_minimum_is_ready(
    deployed: KindPlatform, world: FakeKindWorld, tmp_path: Path
) -> None:
    # The chart omits `replicas` under an HPA: helm --wait is satisfied by one pod each; the
    # platform returns only when the HPA controller has raised each Deployment to its minimum
    # and that many pods are ready.
    for name, minimum in HPA_MINIMUMS.items():
        live = world.cluster.find("Deployment", name, NS)
        assert live is not None
        assert live["status"]["readyReplicas"] >= minimum, name
    state = load_state(tmp_path)
    assert state is not None
    assert (state.platform, state.profile, state.base_url) == ("kind", "prod", "http://127.0.0.1")
    assert state.details["context"] == "kind-tripgen-prod-sim"


def test_deploy_loads_every_image_the_manifests_run(
    deployed: KindPlatform, world: FakeKindWorld
) -> None:
    assert world.cluster.loaded_images == set(harness_images())
    running = {
        c["image"]
        for kind_ in ("Deployment", "StatefulSet")
        for w in world.cluster.of_kind(kind_)
        for c in w["spec"]["template"]["spec"]["containers"]
    }
    assert running <= world.cluster.loaded_images


def test_data_stores_run_on_the_system_pool(deployed: KindPlatform, world: FakeKindWorld) -> None:
    for store in ("postgresql", "redis"):
        (pod,) = pods_of(world, store)
        assert node_of(world, pod)["metadata"]["labels"][topology.POOL_LABEL] == "system"


def test_a_zone_outage_drains_the_zones_application_nodes_only(
    deployed: KindPlatform, world: FakeKindWorld, tmp_path: Path
) -> None:
    nodes = deployed.zone_outage("zone-2")
    assert nodes == [f"{CLUSTER}-worker6", f"{CLUSTER}-worker7"]
    assert all(world.cluster.find("Node", n)["spec"]["unschedulable"] for n in nodes)  # type: ignore[index]
    # every service pod left on the drained nodes is one a PodDisruptionBudget kept there
    state = load_state(tmp_path)
    assert state is not None
    blocked = " ".join(state.details["blocked_drains"])
    app_pods = [p for c in ("user", "trip", "ai", "location") for p in pods_of(world, c)]
    left = [p["metadata"]["name"] for p in app_pods if p["spec"]["nodeName"] in nodes]
    assert all(name in blocked for name in left)
    assert not [p for p in pods_of(world, "user") if p["spec"]["nodeName"] in nodes]  # 2 of 3
    # the zone's system node (worker2) is untouched; the data stores keep running
    system_2 = world.cluster.find("Node", f"{CLUSTER}-worker2")
    assert system_2 is not None
    assert not system_2["spec"].get("unschedulable")
    for store in ("postgresql", "redis"):
        assert [p["status"]["phase"] for p in pods_of(world, store)] == ["Running"]
    assert deployed.restore("koreacentral-2") == nodes
    assert not any(world.cluster.find("Node", n)["spec"]["unschedulable"] for n in nodes)  # type: ignore[index]


def test_a_blocked_drain_is_reported(
    world: FakeKindWorld, printed: io.StringIO, tmp_path: Path
) -> None:
    # SPEC.md conflict 1: trip's PDB minAvailable 3 with 3 replicas refuses every eviction
    platform = kind(tmp_path, world, printed, drain_timeout_s=0.5)
    platform.deploy("prod")
    platform.zone_outage("zone-2")
    assert "disruption budget tripgen-trip needs 3 healthy pods" in printed.getvalue()
    state = load_state(tmp_path)
    assert state is not None
    assert any("tripgen-trip" in line for line in state.details["blocked_drains"])


def test_chaos_and_deploy_refuse_a_context_that_is_not_the_harness_cluster(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    # a cluster answering as kind-tripgen-prod-sim whose nodes the harness did not label
    world.clusters.add(CLUSTER)
    labels = {topology.ZONE_LABEL: "koreacentral-2", topology.POOL_LABEL: "application"}
    world.cluster.put(
        {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "aks-1", "labels": labels}}
    )
    with pytest.raises(PlatformError, match="not a kind cluster this harness created"):
        kind(tmp_path, world, printed).deploy("prod")
    assert not [c for c in world.commands if c[0] == "helm"]


def test_a_failed_release_prints_failing_pods(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    platform = kind(tmp_path, world, printed)
    platform.up("prod")
    world.helm_fails = "Error: context deadline exceeded"
    with pytest.raises(PlatformError, match="context deadline exceeded"):
        platform.deploy("prod")
    assert load_state(tmp_path) is None


def test_an_image_that_was_not_loaded_never_starts(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = kind(tmp_path, world, printed, release_timeout_s=1.0)
    monkeypatch.setattr(platform, "_load_image", lambda cluster, ref: None)  # no `kind load`
    with pytest.raises(PlatformError) as caught:
        platform.deploy("prod")
    assert "ErrImageNeverPull" in str(caught.value)


def test_kill_stop_start_and_status(deployed: KindPlatform, world: FakeKindWorld) -> None:
    before = {p["metadata"]["name"] for p in pods_of(world, "trip")}
    killed = deployed.kill_replica("trip")
    assert killed.replica in before
    assert killed.zone.startswith("koreacentral-")
    assert killed.replica not in {p["metadata"]["name"] for p in pods_of(world, "trip")}
    deployed.stop_dependency("redis")
    assert pods_of(world, "redis") == []
    deployed.start_dependency("redis")
    assert [p["status"]["phase"] for p in pods_of(world, "redis")] == ["Running"]
    time.sleep(0.3)
    status = deployed.status()
    assert {r.service for r in status.replicas} == {"user", "trip", "ai", "location"}
    assert all(r.zone.startswith("koreacentral-") for r in status.replicas if r.ready)


def test_down_uninstalls_the_release_and_keeps_the_cluster(
    deployed: KindPlatform, world: FakeKindWorld, tmp_path: Path
) -> None:
    deployed.down()
    assert CLUSTER in world.clusters
    assert not world.cluster.of_kind("Deployment")
    assert load_state(tmp_path) is None
    with pytest.raises(NotDeployed):
        deployed.endpoints()


def test_cluster_down_deletes_only_tripgen_clusters(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    world.clusters.update({CLUSTER, "someone-elses"})
    assert kind(tmp_path, world, printed).delete_clusters() == [CLUSTER]
    assert world.clusters == {"someone-elses"}


def test_missing_tools_are_named_with_how_to_install_them(
    tmp_path: Path, world: FakeKindWorld, printed: io.StringIO
) -> None:
    world.tools = {"docker", "kubectl"}
    with pytest.raises(PlatformError) as caught:
        kind(tmp_path, world, printed).up("prod")
    message = str(caught.value)
    assert "missing prerequisite tool(s): kind, helm" in message
    assert "go install sigs.k8s.io/kind" in message
    assert world.commands == []

"""chaos.providers.kube: Kubernetes chaos steps act only on the deployed harness kind cluster,
through its own context, against a fake API server that answers as the API reference says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from chaos.providers import kube
from simulation.k8s.kubeapi import CORE
from simulation.state import DeploymentState, save_state
from tests.simulation.k8s.fake_kube_api import FakeCluster, non_loopback_address, write_kubeconfig
from tests.simulation.k8s.kube_objects import kind_nodes, node, pdb, pod

CLUSTER = "tripgen-prod-sim"
NODES = {
    f"{CLUSTER}-worker2": ("koreacentral-2", "system"),
    f"{CLUSTER}-worker6": ("koreacentral-2", "application"),
    f"{CLUSTER}-worker7": ("koreacentral-2", "application"),
    f"{CLUSTER}-worker8": ("koreacentral-3", "application"),
}


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCluster]:
    fake = FakeCluster()
    with fake.serve(bind="0.0.0.0") as url:
        port = url.rsplit(":", 1)[1]
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig",
            {"kind-tripgen-prod-sim": url,
             "tripgen-prod-aks": f"http://{non_loopback_address()}:{port}"},
        )  # fmt: skip
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setattr("simulation.k8s.drain.EVICTION_RETRY_S", 0.05)
        yield fake


def deployed(tmp_path: Path, context: str = "kind-tripgen-prod-sim") -> dict[str, Any]:
    state_dir = tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    details = {"cluster": CLUSTER, "context": context}
    save_state(state_dir, DeploymentState("kind", "prod", "http://127.0.0.1", details=details))
    return {"platform": "kind", "profile": "prod", "base_url": "http://127.0.0.1",
            "state_dir": str(state_dir), "run_dir": str(tmp_path / "run")}  # fmt: skip


def harness_cluster(cluster: FakeCluster) -> None:
    for n in kind_nodes(CLUSTER, NODES):
        cluster.put(n)
    trip = {"app.kubernetes.io/component": "trip"}
    cluster.put(pod("tripgen-postgresql-0", f"{CLUSTER}-worker2", labels={"app": "postgresql"},
                    owner="StatefulSet"))  # fmt: skip
    cluster.put(pod("tripgen-trip-a", f"{CLUSTER}-worker6", labels=trip))
    cluster.put(pod("tripgen-trip-b", f"{CLUSTER}-worker8", labels=trip))


def test_the_zone_drain_takes_the_application_nodes_and_leaves_the_stores(
    tmp_path: Path, cluster: FakeCluster
) -> None:
    harness_cluster(cluster)
    config = deployed(tmp_path)
    assert kube.cordon_zone("zone-2", configuration=config)["cordoned"] == [
        f"{CLUSTER}-worker6", f"{CLUSTER}-worker7"]  # fmt: skip
    result = kube.drain_zone("koreacentral-2", timeout=2, configuration=config)
    assert result["evicted"] == ["tripgen/tripgen-trip-a"]
    assert cluster.find("Pod", "tripgen-postgresql-0", "tripgen") is not None
    system = cluster.find("Node", f"{CLUSTER}-worker2")
    assert system is not None
    assert not system["spec"].get("unschedulable")
    kube.uncordon_zone("zone-2", configuration=config)
    worker6 = cluster.find("Node", f"{CLUSTER}-worker6")
    assert worker6 is not None
    assert worker6["spec"]["unschedulable"] is False


def test_a_drain_a_pdb_blocks_fails_the_step_naming_it(
    tmp_path: Path, cluster: FakeCluster
) -> None:
    harness_cluster(cluster)
    cluster.put(pdb("tripgen-trip", "trip", min_available=2))  # 2 running, 2 needed
    with pytest.raises(ActivityFailed, match="blocked by PodDisruptionBudgets") as caught:
        kube.drain_zone("zone-2", timeout=0.3, configuration=deployed(tmp_path))
    assert "The disruption budget tripgen-trip needs 2 healthy pods" in str(caught.value)


def test_steps_refuse_a_cluster_the_harness_did_not_make(
    tmp_path: Path, cluster: FakeCluster
) -> None:
    # same zone labels as production nodes, no harness label: nothing is cordoned
    cluster.put(node("aks-app-1", zone="koreacentral-2", pool="application"))
    with pytest.raises(ActivityFailed, match="not a kind cluster this harness created"):
        kube.cordon_zone("zone-2", configuration=deployed(tmp_path))
    live = cluster.find("Node", "aks-app-1")
    assert live is not None
    assert not live["spec"].get("unschedulable")
    assert not [r for r in cluster.requests if r[0] == "PATCH"]


def test_steps_refuse_a_recorded_context_that_is_not_kinds(
    tmp_path: Path, cluster: FakeCluster
) -> None:
    harness_cluster(cluster)
    with pytest.raises(ActivityFailed, match="not on a loopback address"):
        kube.evict_replica("trip", configuration=deployed(tmp_path, context="tripgen-prod-aks"))


def test_an_explicit_context_must_be_the_deployed_one(tmp_path: Path, cluster: FakeCluster) -> None:
    harness_cluster(cluster)
    with pytest.raises(ActivityFailed, match="refusing context 'tripgen-prod-aks'"):
        kube.evict_replica(
            "trip", kube_context="tripgen-prod-aks", configuration=deployed(tmp_path)
        )


def test_evict_replica_uses_the_eviction_api(tmp_path: Path, cluster: FakeCluster) -> None:
    harness_cluster(cluster)
    result = kube.evict_replica("trip", configuration=deployed(tmp_path))
    assert result == {"service": "trip", "evicted": "tripgen-trip-a"}
    assert ("POST", f"{CORE}/namespaces/tripgen/pods/tripgen-trip-a/eviction") in cluster.requests


def test_an_eviction_the_pdb_refuses_is_conflict_1(tmp_path: Path, cluster: FakeCluster) -> None:
    harness_cluster(cluster)
    cluster.put(pdb("tripgen-trip", "trip", min_available=2))
    with pytest.raises(ActivityFailed, match=r"SPEC\.md conflict 1"):
        kube.evict_replica("trip", configuration=deployed(tmp_path))


def test_local_deployments_get_no_kubernetes_steps(tmp_path: Path, cluster: FakeCluster) -> None:
    config = deployed(tmp_path)
    config["platform"] = "local"
    with pytest.raises(ActivityFailed, match="kind cluster only"):
        kube.cordon_zone("zone-2", configuration=config)

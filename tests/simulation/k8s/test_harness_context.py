"""Cluster-changing steps refuse any context that is not a kind cluster the harness created,
and deploy-aks refuses a kind one — checked through the context's own API (a fake server)."""

from __future__ import annotations

import pytest

from simulation.k8s import topology
from simulation.k8s.harness_context import (
    NotHarnessCluster,
    check_harness_kind,
    check_not_harness_kind,
    is_loopback,
)
from tests.simulation.k8s.conftest import FakeApi
from tests.simulation.k8s.kube_objects import kind_nodes, node

CLUSTER = "tripgen-prod-sim"


def test_every_generated_kind_node_carries_the_harness_label() -> None:
    for sim in topology.SIMULATIONS:
        config = topology.kind_config(sim)
        labels = [n["labels"].get(topology.HARNESS_CLUSTER_LABEL) for n in config["nodes"]]
        assert labels == [config["name"]] * len(config["nodes"])


def test_a_harness_kind_cluster_passes(fake_api: FakeApi) -> None:
    for n in kind_nodes(CLUSTER, {f"{CLUSTER}-worker": ("koreacentral-1", "system")}):
        fake_api.cluster.put(n)
    check_harness_kind(fake_api.api("kind-tripgen-prod-sim"), CLUSTER)


def test_a_cluster_with_the_same_zone_labels_but_not_made_by_the_harness_is_refused(
    fake_api: FakeApi,
) -> None:
    # what a production cluster looks like from here: AKS zone and pool labels, no harness label
    fake_api.cluster.put(node("aks-app-1", zone="koreacentral-2", pool="application"))
    with pytest.raises(NotHarnessCluster, match=r"lack tripgen\.io/kind-cluster=tripgen-prod-sim"):
        check_harness_kind(fake_api.api("kind-tripgen-prod-sim"), CLUSTER)


def test_an_aks_context_is_refused_for_chaos(fake_api: FakeApi) -> None:
    for n in kind_nodes(CLUSTER, {f"{CLUSTER}-worker": ("koreacentral-1", "system")}):
        fake_api.cluster.put(n)
    with pytest.raises(NotHarnessCluster) as caught:
        check_harness_kind(fake_api.api("tripgen-prod-aks"), CLUSTER)
    message = str(caught.value)
    assert "context 'tripgen-prod-aks' is not kind's context for tripgen-prod-sim" in message
    assert "is not on a loopback address" in message


def test_the_other_simulation_s_context_is_refused(fake_api: FakeApi) -> None:
    for n in kind_nodes("tripgen-dev-sim", {"tripgen-dev-sim-worker": ("koreacentral-1", "")}):
        fake_api.cluster.put(n)
    with pytest.raises(NotHarnessCluster, match="is not kind's context"):
        check_harness_kind(fake_api.api("kind-tripgen-dev-sim"), CLUSTER)
    with pytest.raises(NotHarnessCluster, match="not a harness cluster"):
        check_harness_kind(fake_api.api("kind-tripgen-dev-sim"), "someone-elses")


def test_deploy_aks_refuses_a_kind_context(fake_api: FakeApi) -> None:
    for n in kind_nodes(CLUSTER, {f"{CLUSTER}-worker": ("koreacentral-1", "system")}):
        fake_api.cluster.put(n)
    with pytest.raises(NotHarnessCluster, match="is a local kind cluster, not AKS"):
        check_not_harness_kind(fake_api.api("kind-tripgen-prod-sim"))


def test_an_aks_context_passes_the_aks_check(fake_api: FakeApi) -> None:
    fake_api.cluster.put(node("aks-app-1", zone="koreacentral-2", pool="application"))
    check_not_harness_kind(fake_api.api("tripgen-prod-aks"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.3.2.1", True),
     ("tripgen-abc.hcp.koreacentral.azmk8s.io", False), ("10.0.0.4", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback

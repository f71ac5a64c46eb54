"""A zone outage on kind drains only the zone's application-pool nodes, through the Eviction
API; the data stores on the system pool stay up, a PodDisruptionBudget refusal is reported."""

from __future__ import annotations

from simulation.k8s.drain import application_nodes, drain, set_unschedulable
from simulation.k8s.kubeapi import CORE, namespaced
from tests.simulation.k8s.conftest import FakeApi
from tests.simulation.k8s.kube_objects import NS, kind_nodes, pdb, pod

CLUSTER = "tripgen-prod-sim"
# SPEC.md › Compute, prod v2 on kind: 3 system workers (one per zone) then 6 application workers
NODES = {
    f"{CLUSTER}-worker": ("koreacentral-1", "system"),
    f"{CLUSTER}-worker2": ("koreacentral-2", "system"),
    f"{CLUSTER}-worker3": ("koreacentral-3", "system"),
    f"{CLUSTER}-worker4": ("koreacentral-1", "application"),
    f"{CLUSTER}-worker5": ("koreacentral-1", "application"),
    f"{CLUSTER}-worker6": ("koreacentral-2", "application"),
    f"{CLUSTER}-worker7": ("koreacentral-2", "application"),
    f"{CLUSTER}-worker8": ("koreacentral-3", "application"),
    f"{CLUSTER}-worker9": ("koreacentral-3", "application"),
}


def populate(fake_api: FakeApi) -> None:
    for n in kind_nodes(CLUSTER, NODES):
        fake_api.cluster.put(n)
    trip = {"app.kubernetes.io/component": "trip"}
    user = {"app.kubernetes.io/component": "user"}
    pods = [
        pod("tripgen-postgresql-0", f"{CLUSTER}-worker2", labels={"app": "postgresql"},
            owner="StatefulSet"),
        pod("tripgen-redis-0", f"{CLUSTER}-worker2", labels={"app": "redis"}, owner="StatefulSet"),
        pod("tripgen-user-a", f"{CLUSTER}-worker6", labels=user),
        pod("tripgen-trip-a", f"{CLUSTER}-worker6", labels=trip),
        pod("tripgen-trip-b", f"{CLUSTER}-worker7", labels=trip),
        pod("tripgen-trip-c", f"{CLUSTER}-worker8", labels=trip),
        pod("kube-proxy-x", f"{CLUSTER}-worker6", ns="kube-system", owner="DaemonSet"),
    ]  # fmt: skip
    for p in pods:
        fake_api.cluster.put(p)


def pod_names(fake_api: FakeApi) -> set[str]:
    return {p["metadata"]["name"] for p in fake_api.api().list(f"{CORE}/pods")}


def test_the_zone_means_its_application_nodes_only(fake_api: FakeApi) -> None:
    populate(fake_api)
    assert application_nodes(fake_api.api(), "koreacentral-2") == [
        f"{CLUSTER}-worker6",
        f"{CLUSTER}-worker7",
    ]


def test_drain_keeps_the_data_stores_and_daemonsets(fake_api: FakeApi) -> None:
    populate(fake_api)
    api = fake_api.api()
    nodes = application_nodes(api, "koreacentral-2")
    set_unschedulable(api, nodes, True)
    result = drain(api, nodes, timeout_s=3, poll_s=0.05, retry_s=0.05)
    assert result.blocked == []
    assert sorted(result.evicted) == [f"{NS}/tripgen-trip-a", f"{NS}/tripgen-trip-b",
                                      f"{NS}/tripgen-user-a"]  # fmt: skip
    left = pod_names(fake_api)
    assert {"tripgen-postgresql-0", "tripgen-redis-0", "kube-proxy-x", "tripgen-trip-c"} <= left
    node = fake_api.cluster.find("Node", f"{CLUSTER}-worker6")
    assert node is not None
    assert node["spec"]["unschedulable"] is True
    set_unschedulable(api, nodes, False)
    assert node_spec(fake_api, f"{CLUSTER}-worker6")["unschedulable"] is False


def node_spec(fake_api: FakeApi, name: str) -> dict:
    live = fake_api.api().get(f"{CORE}/nodes/{name}")
    assert live is not None
    return dict(live["spec"])


def test_a_pdb_refusal_is_reported_with_the_apis_reason(fake_api: FakeApi) -> None:
    # SPEC.md conflict 1: trip's PDB minAvailable 3 with 3 replicas: no eviction is allowed
    populate(fake_api)
    fake_api.cluster.put(pdb("tripgen-trip", "trip", min_available=3))
    api = fake_api.api()
    nodes = application_nodes(api, "koreacentral-2")
    result = drain(api, nodes, timeout_s=0.4, poll_s=0.05, retry_s=0.05)
    assert result.evicted == [f"{NS}/tripgen-user-a"]
    assert len(result.blocked) == 2
    assert "429 TooManyRequests" in result.blocked[0]
    assert "The disruption budget tripgen-trip needs 3 healthy pods and has 3" in result.blocked[0]
    assert "tripgen-trip-a" in pod_names(fake_api)
    assert api.get(namespaced(CORE, NS, "pods", "tripgen-user-a")) is None

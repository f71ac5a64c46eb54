"""Kubernetes objects for the fake cluster, shaped as the API returns them."""

from __future__ import annotations

from typing import Any

from simulation.k8s.topology import HARNESS_CLUSTER_LABEL, POOL_LABEL, ZONE_LABEL

Obj = dict[str, Any]
NS = "tripgen"


def node(
    name: str,
    *,
    zone: str = "",
    pool: str = "",
    cluster: str = "",
    taints: list[Obj] | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    all_labels = dict(labels or {})
    if zone:
        all_labels[ZONE_LABEL] = zone
    if pool:
        all_labels[POOL_LABEL] = pool
    if cluster:
        all_labels[HARNESS_CLUSTER_LABEL] = cluster
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": all_labels},
        "spec": {"taints": taints or []},
    }


def kind_nodes(cluster: str, zones: dict[str, tuple[str, str]]) -> list[Obj]:
    """Nodes of a harness kind cluster: name → (zone, pool), each with the harness label."""
    return [node(f"{cluster}-control-plane", cluster=cluster)] + [
        node(name, zone=zone, pool=pool, cluster=cluster) for name, (zone, pool) in zones.items()
    ]


def deployment(name: str, component: str, *, replicas: int | None = None, ns: str = NS) -> Obj:
    labels = {"app.kubernetes.io/instance": "tripgen", "app.kubernetes.io/component": component}
    spec: Obj = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": {**labels, "tier": "application"}}, "spec": {}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": spec,
    }


def hpa(name: str, target: str, minimum: int, maximum: int = 10, ns: str = NS) -> Obj:
    return {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": minimum,
            "maxReplicas": maximum,
        },
    }


def pdb(name: str, component: str, min_available: int, ns: str = NS) -> Obj:
    return {
        "kind": "PodDisruptionBudget",
        "apiVersion": "policy/v1",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "minAvailable": min_available,
            "selector": {"matchLabels": {"app.kubernetes.io/component": component}},
        },
    }


def pod(
    name: str,
    node_name: str,
    *,
    labels: dict[str, str] | None = None,
    ns: str = NS,
    ready: bool = True,
    owner: str = "ReplicaSet",
) -> Obj:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels or {},
            "ownerReferences": [{"kind": owner, "name": name.rsplit("-", 1)[0]}],
        },
        "spec": {"nodeName": node_name},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }

"""A zone outage on a harness kind cluster: cordon and drain the zone's application-pool nodes.

What the kind path models, as the local platform does: a zone outage takes out the *service
replicas* in that zone. The data stores stand for Azure's zone-redundant managed services, which
survive a zone loss, so they are not drained: on kind they run on the untainted system-pool nodes
(the chart gives them no toleration for the application pool's taint), and only nodes labelled
`agentpool=application` in the zone are cordoned and drained.

The drain evicts through the Eviction API, so PodDisruptionBudgets are respected; an eviction a
budget refuses (HTTP 429) is retried until the timeout, then reported as blocked — SPEC.md
conflict 1 (minAvailable equal to the HPA minimum) shows up here and is a finding, not hidden.
DaemonSet pods and mirror pods are left alone, as `kubectl drain --ignore-daemonsets` does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from simulation.k8s.kubeapi import CORE, KubeApi, KubeApiError, namespaced
from simulation.k8s.topology import POOL_LABEL, ZONE_LABEL

APPLICATION_POOL = "application"
EVICTION_RETRY_S = 5.0  # as kubectl drain retries a refused eviction


@dataclass
class DrainResult:
    nodes: list[str]
    evicted: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # "pod: why" for each refused eviction


def application_nodes(api: KubeApi, zone: str) -> list[str]:
    """The application-pool nodes labelled with `zone` (e.g. koreacentral-2)."""
    selector = f"{ZONE_LABEL}={zone},{POOL_LABEL}={APPLICATION_POOL}"
    return sorted(n["metadata"]["name"] for n in api.list(f"{CORE}/nodes", label_selector=selector))


def set_unschedulable(api: KubeApi, nodes: list[str], unschedulable: bool) -> None:
    """Cordon (True) or uncordon (False) `nodes`."""
    for node in nodes:
        api.merge_patch(f"{CORE}/nodes/{node}", {"spec": {"unschedulable": unschedulable}})


def _evictable(pod: dict[str, Any]) -> bool:
    meta = pod["metadata"]
    if "kubernetes.io/config.mirror" in meta.get("annotations", {}):
        return False
    if any(ref.get("kind") == "DaemonSet" for ref in meta.get("ownerReferences", [])):
        return False
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


def pods_on(api: KubeApi, node: str) -> list[dict[str, Any]]:
    return [
        p for p in api.list(f"{CORE}/pods", field_selector=f"spec.nodeName={node}") if _evictable(p)
    ]


def evict(api: KubeApi, pod: dict[str, Any]) -> str:
    """Ask the Eviction API to evict `pod`: "" when accepted (or already gone), else why not."""
    meta = pod["metadata"]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    path = namespaced(CORE, meta["namespace"], "pods", meta["name"]) + "/eviction"
    try:
        api.create(path, body)
    except KubeApiError as exc:
        if exc.status == 404:
            return ""
        causes = (exc.status_object or {}).get("details", {}).get("causes", [])
        why = "; ".join(str(c.get("message", "")) for c in causes) or exc.message
        return f"{exc.status} {exc.reason}: {why}"
    return ""


def drain(
    api: KubeApi,
    nodes: list[str],
    *,
    timeout_s: float = 120,
    poll_s: float = 1.0,
    retry_s: float | None = None,
) -> DrainResult:
    """Evict every evictable pod from `nodes` (cordon them first) and wait until they are gone;
    evictions still refused at the timeout are reported in `blocked`."""
    result = DrainResult(nodes)
    deadline = time.monotonic() + timeout_s
    refused: dict[str, str] = {}
    while True:
        remaining = [p for node in nodes for p in pods_on(api, node)]
        if not remaining:
            break
        for pod in remaining:
            key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            if key in result.evicted:
                continue  # accepted: waiting for it to terminate
            why = evict(api, pod)
            if why:
                refused[key] = why
            else:
                refused.pop(key, None)
                result.evicted.append(key)
        if time.monotonic() >= deadline:
            break
        time.sleep((EVICTION_RETRY_S if retry_s is None else retry_s) if refused else poll_s)
    result.blocked = [f"{pod}: {why}" for pod, why in refused.items()]
    return result

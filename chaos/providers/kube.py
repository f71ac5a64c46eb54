"""Kubernetes-only steps with no chaostoolkit-kubernetes equivalent.

chaostoolkit-kubernetes' `terminate_pods` deletes pods directly, which bypasses
PodDisruptionBudgets; killing a replica "with the PDB respected" means asking the Eviction API,
as `kubectl drain` (and chaostoolkit-kubernetes' `drain_nodes`) do. A refused eviction (HTTP 429:
the budget allows no disruption) is the SPEC.md conflict-1 finding and is reported as such.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from chaos.context import Configuration, context_from
from chaos.events import now, start_event, update_event

COMPONENT_LABEL = "app.kubernetes.io/component"


def _core(context_name: str | None) -> client.CoreV1Api:
    config.load_kube_config(context=context_name or None)
    return client.CoreV1Api()


def evict_replica(
    service: str,
    namespace: str = "tripgen",
    kube_context: str = "",
    configuration: Configuration | None = None,
) -> dict[str, Any]:
    """Evict one running pod of `service` through the Eviction API (PDB respected)."""
    api = _core(kube_context)
    pods = api.list_namespaced_pod(namespace, label_selector=f"{COMPONENT_LABEL}={service}")
    running = [
        str(p.metadata.name)
        for p in pods.items
        if p.status is not None and p.metadata is not None and p.status.phase == "Running"
    ]
    if not running:
        raise ActivityFailed(f"no running pod of {service} in {namespace}")
    pod = running[0]
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace))
    try:
        api.create_namespaced_pod_eviction(pod, namespace, body)
    except ApiException as exc:
        if exc.status == 429:
            raise ActivityFailed(
                f"eviction of {pod} blocked by its PodDisruptionBudget (no disruption allowed: "
                "minAvailable equals the replicas — SPEC.md conflict 1)"
            ) from exc
        raise ActivityFailed(f"eviction of {pod} failed: {exc.reason}") from exc
    run_dir = context_from(configuration).run_dir
    name = f"kill-replica/{service}"
    start_event(
        run_dir,
        name,
        {
            "service": service,
            "replica": pod,
            "pid": None,
            "ready_before": len(running),
            "platform": "kind",
        },
    )
    update_event(run_dir, name, ended_at=now())
    return {"service": service, "evicted": pod}

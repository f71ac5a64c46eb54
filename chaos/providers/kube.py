"""Kubernetes chaos steps on the harness's kind cluster — never on whatever context is current.

Every function acts through the API of the kind cluster recorded by the deployment
(`state.json`: `details.context` = `kind-<cluster>`) and first checks, through that context, that
it is a kind cluster this harness created (`simulation.k8s.harness_context`: kind's context name,
a loopback API server, every node labelled `tripgen.io/kind-cluster=<cluster>`); otherwise the
step fails before touching anything. chaostoolkit-kubernetes' actions name no context, and an AKS
cluster's nodes carry the same zone labels, so experiments call these instead.

- `evict_replica`: one pod of a service through the Eviction API (PDB respected; chaostoolkit-
  kubernetes' `terminate_pods` deletes pods directly, bypassing PodDisruptionBudgets). A refused
  eviction (HTTP 429) is SPEC.md conflict 1 and is reported as such.
- `cordon_zone` / `drain_zone` / `uncordon_zone`: a zone outage on kind takes out the zone's
  application-pool nodes only. The data stores stand for Azure's zone-redundant managed services
  and run on the system pool, so they stay — as on the local platform, where a zone outage stops
  the zone's service replicas and leaves PostgreSQL and Redis alone.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaos.context import Configuration, context_from
from chaos.events import now, start_event, update_event
from simulation.k8s.drain import application_nodes, drain, set_unschedulable
from simulation.k8s.harness_context import NotHarnessCluster, check_harness_kind
from simulation.k8s.kubeapi import CORE, KubeApi, KubeApiError, namespaced
from simulation.k8s.topology import zone_name
from simulation.profiles import zone_index
from simulation.state import load_state

COMPONENT_LABEL = "app.kubernetes.io/component"


def kind_api(configuration: Configuration | None, kube_context: str = "") -> KubeApi:
    """The API of the deployed harness kind cluster, checked; `ActivityFailed` otherwise."""
    context = context_from(configuration)
    state = load_state(context.state_dir)
    if context.platform != "kind" or state is None or state.platform != "kind":
        raise ActivityFailed(
            f"Kubernetes chaos steps run on the harness's kind cluster only (platform here: "
            f"{context.platform})"
        )
    recorded = str(state.details.get("context", ""))
    cluster = str(state.details.get("cluster", ""))
    if kube_context and kube_context != recorded:
        raise ActivityFailed(
            f"refusing context {kube_context!r}: the deployed kind cluster's context is "
            f"{recorded!r}"
        )
    try:
        api = KubeApi.for_context(recorded)
        check_harness_kind(api, cluster)
    except (NotHarnessCluster, KubeApiError) as exc:
        raise ActivityFailed(str(exc)) from exc
    return api


def evict_replica(
    service: str,
    namespace: str = "tripgen",
    kube_context: str = "",
    configuration: Configuration | None = None,
) -> dict[str, Any]:
    """Evict one running pod of `service` through the Eviction API (PDB respected)."""
    api = kind_api(configuration, kube_context)
    pods = api.list(
        namespaced(CORE, namespace, "pods"), label_selector=f"{COMPONENT_LABEL}={service}"
    )
    running = [
        str(p["metadata"]["name"]) for p in pods if p.get("status", {}).get("phase") == "Running"
    ]
    if not running:
        raise ActivityFailed(f"no running pod of {service} in {namespace}")
    pod = running[0]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": namespace},
    }
    try:
        api.create(namespaced(CORE, namespace, "pods", pod) + "/eviction", body)
    except KubeApiError as exc:
        if exc.status == 429:
            raise ActivityFailed(
                f"eviction of {pod} blocked by its PodDisruptionBudget (no disruption allowed: "
                f"minAvailable equals the replicas — SPEC.md conflict 1): {exc.message}"
            ) from exc
        raise ActivityFailed(f"eviction of {pod} failed: {exc}") from exc
    run_dir = context_from(configuration).run_dir
    name = f"kill-replica/{service}"
    details = {"service": service, "replica": pod, "pid": None, "ready_before": len(running),
               "platform": "kind"}  # fmt: skip
    start_event(run_dir, name, details)
    update_event(run_dir, name, ended_at=now())
    return {"service": service, "evicted": pod}


def _zone_nodes(api: KubeApi, zone: str) -> list[str]:
    label = zone_name(zone_index(zone))
    nodes = application_nodes(api, label)
    if not nodes:
        raise ActivityFailed(f"no application-pool node is labelled {label}")
    return nodes


def cordon_zone(zone: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Mark the zone's application-pool nodes unschedulable (zone-2 or koreacentral-2)."""
    api = kind_api(configuration)
    nodes = _zone_nodes(api, zone)
    set_unschedulable(api, nodes, True)
    return {"zone": zone, "cordoned": nodes}


def drain_zone(
    zone: str, timeout: float = 120, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Evict every pod from the zone's application-pool nodes (cordoned first); fails listing
    each eviction a PodDisruptionBudget still refused at `timeout` seconds."""
    api = kind_api(configuration)
    nodes = _zone_nodes(api, zone)
    set_unschedulable(api, nodes, True)
    result = drain(api, nodes, timeout_s=float(timeout))
    if result.blocked:
        raise ActivityFailed(
            f"drain of {', '.join(nodes)} blocked by PodDisruptionBudgets (SPEC.md conflict 1): "
            + "; ".join(result.blocked)
        )
    return {"zone": zone, "drained": nodes, "evicted": result.evicted}


def uncordon_zone(zone: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Make the zone's application-pool nodes schedulable again (also the rollback)."""
    api = kind_api(configuration)
    nodes = _zone_nodes(api, zone)
    set_unschedulable(api, nodes, False)
    return {"zone": zone, "uncordoned": nodes}

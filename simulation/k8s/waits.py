"""Waiting on a cluster through its API: objects first exist, then reach the state wanted.

`kubectl wait` right after `kubectl apply` fails with `error: no matching resources found` when
the controller has not created the pods yet, and `helm --wait` returns once each Deployment has
its `spec.replicas` ready — which, for a Deployment under an HPA (the chart omits `replicas`), is
the API's default of 1, not the HPA's minimum. These waits poll the API instead: an object that
does not exist yet is pending, not an error, and an HPA is done only when its current replicas
reach `minReplicas` and that many pods of its target are updated and ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from simulation.k8s.kubeapi import APPS, AUTOSCALING, CORE, KubeApi, namespaced

Doc = dict[str, Any]
POLL_S = 2.0


class WaitTimeout(RuntimeError):
    """What was still pending when the time ran out."""


def wait_until(
    pending: Callable[[], list[str]], *, what: str, timeout_s: float, poll_s: float = POLL_S
) -> float:
    """Poll `pending()` (what is not there yet; empty when done) until empty; seconds taken."""
    start = time.monotonic()
    while True:
        left = pending()
        if not left:
            return time.monotonic() - start
        if time.monotonic() - start >= timeout_s:
            raise WaitTimeout(
                f"{what}: not reached within {timeout_s:.0f} s; still pending:\n"
                + "\n".join(f"  - {line}" for line in left)
            )
        time.sleep(poll_s)


# --------------------------------------------------------------------------- what a release holds


@dataclass(frozen=True)
class Workload:
    kind: str  # Deployment | StatefulSet
    name: str


@dataclass(frozen=True)
class Autoscaler:
    """An HPA the release makes (directly, or through a KEDA ScaledObject) and its target."""

    hpa: str
    target: str
    min_replicas: int


def release_workloads(docs: Sequence[Doc]) -> list[Workload]:
    return [
        Workload(d["kind"], d["metadata"]["name"])
        for d in docs
        if d.get("kind") in ("Deployment", "StatefulSet")
    ]


def release_autoscalers(docs: Sequence[Doc]) -> list[Autoscaler]:
    """The HPAs of a release's manifests; a ScaledObject's HPA is the one KEDA names."""
    found = []
    for d in docs:
        if d.get("kind") == "HorizontalPodAutoscaler":
            spec = d["spec"]
            found.append(
                Autoscaler(
                    d["metadata"]["name"],
                    spec["scaleTargetRef"]["name"],
                    int(spec.get("minReplicas", 1)),
                )
            )
        elif d.get("kind") == "ScaledObject":
            spec = d["spec"]
            hpa_config = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
            name = hpa_config.get("name") or f"keda-hpa-{d['metadata']['name']}"
            # KEDA's default minReplicaCount is 0 (scale to zero)
            found.append(
                Autoscaler(
                    name, spec["scaleTargetRef"]["name"], int(spec.get("minReplicaCount", 0))
                )
            )
    return found


# --------------------------------------------------------------------------- checks


def _workload_path(namespace: str, w: Workload) -> str:
    resource = "deployments" if w.kind == "Deployment" else "statefulsets"
    return namespaced(APPS, namespace, resource, w.name)


def rollout_pending(api: KubeApi, namespace: str, w: Workload) -> str:
    """Why `w` is not rolled out yet ("" when it is)."""
    obj = api.get(_workload_path(namespace, w))
    if obj is None:
        return f"{w.kind}/{w.name} does not exist yet"
    spec, st = obj.get("spec", {}), obj.get("status", {})
    wanted = int(spec.get("replicas", 1))
    if int(st.get("observedGeneration", 0)) < int(obj["metadata"].get("generation", 1)):
        return f"{w.kind}/{w.name}: the controller has not seen generation yet"
    ready = int(st.get("readyReplicas", 0))
    updated = int(st.get("updatedReplicas", st.get("currentReplicas", 0)))
    if ready < wanted or updated < wanted:
        return f"{w.kind}/{w.name}: {ready} ready, {updated} updated of {wanted}"
    return ""


def hpa_pending(api: KubeApi, namespace: str, a: Autoscaler) -> str:
    """Why the HPA has not reached its minimum with ready pods yet ("" when it has)."""
    hpa = api.get(namespaced(AUTOSCALING, namespace, "horizontalpodautoscalers", a.hpa))
    if hpa is None:
        return f"HorizontalPodAutoscaler/{a.hpa} does not exist yet"
    current = int(hpa.get("status", {}).get("currentReplicas", 0))
    if current < a.min_replicas:
        return f"HorizontalPodAutoscaler/{a.hpa}: {current} current of minimum {a.min_replicas}"
    return rollout_pending(api, namespace, Workload("Deployment", a.target)) or (
        _target_short(api, namespace, a)
    )


def _target_short(api: KubeApi, namespace: str, a: Autoscaler) -> str:
    target = api.get(namespaced(APPS, namespace, "deployments", a.target)) or {}
    ready = int(target.get("status", {}).get("readyReplicas", 0))
    if ready < a.min_replicas:
        return f"Deployment/{a.target}: {ready} ready of the HPA minimum {a.min_replicas}"
    return ""


def pods_pending(api: KubeApi, namespace: str, selector: str) -> list[str]:
    """Pods matching `selector` that are not Ready; one line when none exists yet."""
    pods = api.list(namespaced(CORE, namespace, "pods"), label_selector=selector)
    if not pods:
        return [f"no pod matches {selector} in {namespace} yet"]
    return [f"pod {p['metadata']['name']} not ready" for p in pods if not pod_ready(p)]


def pod_ready(pod: Doc) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


# --------------------------------------------------------------------------- waits


def wait_rolled_out(
    api: KubeApi,
    namespace: str,
    workloads: Sequence[Workload],
    *,
    timeout_s: float,
    poll_s: float = POLL_S,
) -> float:
    def pending() -> list[str]:
        return [line for w in workloads if (line := rollout_pending(api, namespace, w))]

    return wait_until(pending, what="rollout", timeout_s=timeout_s, poll_s=poll_s)


def wait_hpa_minimums(
    api: KubeApi,
    namespace: str,
    autoscalers: Sequence[Autoscaler],
    *,
    timeout_s: float,
    poll_s: float = POLL_S,
) -> float:
    def pending() -> list[str]:
        return [line for a in autoscalers if (line := hpa_pending(api, namespace, a))]

    return wait_until(pending, what="HPA minimums", timeout_s=timeout_s, poll_s=poll_s)


def wait_pods_ready(
    api: KubeApi, namespace: str, selector: str, *, timeout_s: float, poll_s: float = POLL_S
) -> float:
    """Until at least one pod matches `selector` and every matching pod is Ready."""
    return wait_until(
        lambda: pods_pending(api, namespace, selector),
        what=f"pods {selector} in {namespace}",
        timeout_s=timeout_s,
        poll_s=poll_s,
    )


def wait_pods_gone(
    api: KubeApi, namespace: str, selector: str, *, timeout_s: float, poll_s: float = POLL_S
) -> float:
    """Until no pod matches `selector` (already none is done at once)."""

    def pending() -> list[str]:
        pods = api.list(namespaced(CORE, namespace, "pods"), label_selector=selector)
        return [f"pod {p['metadata']['name']} still exists" for p in pods]

    return wait_until(pending, what=f"pods {selector} gone", timeout_s=timeout_s, poll_s=poll_s)

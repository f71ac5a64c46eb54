"""Argo Rollouts on kind and AKS: the controller (pinned release, installed on kind when the values
turn `rollouts.enabled` on), the checks before a release that holds Rollouts is installed, and the
wait after it: every Rollout `Healthy` (its analysis passed) — or, when the analysis failed and
the controller aborted, a loud error saying so (traffic is then back on the stable version).
The kind smoke run of a blue-green switch is `simulation.platforms.rollouts_kind_smoke`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from simulation.k8s import waits
from simulation.k8s.kubeapi import KubeApi, KubeApiError, namespaced
from simulation.k8s.waits import (
    WaitTimeout,
    release_autoscalers,
    release_workloads,
    wait_pods_ready,
    wait_until,
)
from simulation.platforms.base import PlatformError

Doc = dict[str, Any]

ARGO_ROLLOUTS_VERSION = "v1.7.2"
MANIFEST = (
    "https://github.com/argoproj/argo-rollouts/releases/download/"
    f"{ARGO_ROLLOUTS_VERSION}/install.yaml"
)  # the release's install manifest (CRDs + controller in namespace argo-rollouts)
NAMESPACE = "argo-rollouts"
CONTROLLER = "app.kubernetes.io/name=argo-rollouts"
GROUP = "/apis/argoproj.io/v1alpha1"
CRDS = ("rollouts.argoproj.io", "analysistemplates.argoproj.io", "analysisruns.argoproj.io")
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


class RolloutAborted(RuntimeError):
    """The controller aborted a Rollout (its analysis failed): traffic is on the stable version."""


def holds_rollouts(docs: Sequence[Doc]) -> bool:
    return any(d.get("kind") == "Rollout" for d in docs)


def enabled_in(values_files: Sequence[Path]) -> bool:
    """Whether the layered values files (later ones win) turn `rollouts.enabled` on."""
    enabled = False
    for path in values_files:
        layer = yaml.safe_load(path.read_text("utf-8")) or {}
        rollouts = layer.get("rollouts") or {}
        if "enabled" in rollouts:
            enabled = bool(rollouts["enabled"])
    return enabled


def rollout_names(docs: Sequence[Doc]) -> list[str]:
    return [d["metadata"]["name"] for d in docs if d.get("kind") == "Rollout"]


def _get(api: KubeApi, path: str) -> Doc | None:
    try:
        return api.get(path)
    except KubeApiError as exc:
        if exc.status == 404:
            return None
        raise


def missing(api: KubeApi) -> list[str]:
    """What of Argo Rollouts the cluster lacks (CRDs, a ready controller); empty when ready."""
    found = [f"CRD {crd} absent" for crd in CRDS if _get(api, f"{CRD_PATH}/{crd}") is None]
    pods = api.list(namespaced("/api/v1", NAMESPACE, "pods"), label_selector=CONTROLLER)
    if not any(waits.pod_ready(p) for p in pods):
        found.append(f"no ready controller pod ({CONTROLLER}) in namespace {NAMESPACE}")
    return found


def rollout_pending(api: KubeApi, namespace: str, name: str) -> str:
    """Why Rollout `name` is not done yet ("" when Healthy); raises when it was aborted."""
    obj = _get(api, namespaced(GROUP, namespace, "rollouts", name))
    if obj is None:
        return f"Rollout/{name} does not exist yet"
    status = obj.get("status", {})
    phase = status.get("phase", "")
    if status.get("abort") or phase == "Degraded":
        raise RolloutAborted(
            f"Rollout/{name} aborted ({phase or 'abort'}): {status.get('message', 'no message')}; "
            "the controller sent every request back to the stable version"
        )
    if phase != "Healthy":
        step = status.get("currentStepIndex")
        where = f", step {step}" if step is not None else ""
        return f"Rollout/{name}: {phase or 'no phase yet'}{where} {status.get('message', '')}"
    return ""


def _autoscaled_pending(api: KubeApi, namespace: str, docs: Sequence[Doc]) -> list[str]:
    """HPAs at their minimum, counting the ready pods of the Rollout they scale."""
    left = []
    for a in release_autoscalers(docs):
        obj = _get(api, namespaced(GROUP, namespace, "rollouts", a.target)) or {}
        ready = int(obj.get("status", {}).get("readyReplicas", 0))
        if ready < a.min_replicas:
            left.append(f"Rollout/{a.target}: {ready} ready of the HPA minimum {a.min_replicas}")
    return left


def wait_release(
    api: KubeApi, namespace: str, docs: Sequence[Doc], *, timeout_s: float, poll_s: float
) -> float:
    """The release's StatefulSets rolled out, every Rollout Healthy and at its HPA minimum;
    raises `RolloutAborted` at once when the controller aborts one."""
    workloads = [w for w in release_workloads(docs) if w.kind != "Deployment"]
    names = rollout_names(docs)

    def pending() -> list[str]:
        left = [m for w in workloads if (m := waits.rollout_pending(api, namespace, w))]
        left += [m for n in names if (m := rollout_pending(api, namespace, n))]
        return left or _autoscaled_pending(api, namespace, docs)

    return wait_until(pending, what="rollouts healthy", timeout_s=timeout_s, poll_s=poll_s)


def install(kube: Any, *, timeout_s: float = 300, poll_s: float = 2.0) -> None:
    """The pinned Argo Rollouts release on the cluster of `kube` (a `platforms.kube.Kube`)."""
    kube.kubectl("create", "namespace", NAMESPACE, namespaced=False, check=False, timeout=60)
    # Server-side: the Rollout CRD is too large for the last-applied annotation of a client apply.
    kube.kubectl("apply", "--server-side", "--namespace", NAMESPACE, "--filename", MANIFEST,
                 namespaced=False, timeout=300)  # fmt: skip
    try:
        wait_pods_ready(kube.api, NAMESPACE, CONTROLLER, timeout_s=timeout_s, poll_s=poll_s)
    except (WaitTimeout, KubeApiError) as exc:
        raise PlatformError(f"the Argo Rollouts controller did not become ready: {exc}") from exc


def restart_patch(stamp: float | None = None) -> Doc:
    """A pod-template change that starts a new revision of every Rollout (what a new image
    would do): Argo Rollouts' own `restartedAt`-style annotation."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if stamp is None else stamp))
    return {"spec": {"template": {"metadata": {"annotations": {"tripgen.io/revision": when}}}}}

"""Is this kube context a kind cluster the harness created? Asked before anything changes it.

The kind simulations label their nodes like AKS does (`topology.kubernetes.io/zone`,
`agentpool`), so a chaos step that picks nodes by label would act on a production cluster just as
well. Every cluster-changing step therefore names its context explicitly and first checks, through
that context's API, all of:

- the context is `kind-<cluster>` and the cluster is one of the harness's (`tripgen-…-sim`);
- its API server listens on a loopback address (kind publishes it on 127.0.0.1; AKS never does);
- every node carries `tripgen.io/kind-cluster=<cluster>`, the label the generated kind config
  gives each node at `cluster-up` (`simulation.k8s.topology`).

`check_not_harness_kind` is the converse, for `deploy-aks`: refuse a kind context there.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from simulation.k8s.kubeapi import CORE, KubeApi, KubeApiError
from simulation.k8s.topology import HARNESS_CLUSTER_LABEL, SIMULATIONS

KIND_CONTEXT_PREFIX = "kind-"


class NotHarnessCluster(RuntimeError):
    """The context is not (or, for AKS, is) a kind cluster the harness created."""


def harness_clusters() -> tuple[str, ...]:
    return tuple(f"tripgen-{sim}" for sim in SIMULATIONS)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _nodes(api: KubeApi) -> list[dict[str, Any]]:
    try:
        return api.list(f"{CORE}/nodes")
    except KubeApiError as exc:
        raise NotHarnessCluster(f"cannot list the nodes of {api.context}: {exc}") from exc


def check_harness_kind(api: KubeApi, cluster: str) -> None:
    """Raise `NotHarnessCluster` naming every check `api`'s context fails for kind `cluster`."""
    problems = []
    if cluster not in harness_clusters():
        problems.append(f"{cluster!r} is not a harness cluster ({', '.join(harness_clusters())})")
    if api.context != f"{KIND_CONTEXT_PREFIX}{cluster}":
        problems.append(f"context {api.context!r} is not kind's context for {cluster}")
    if not is_loopback(api.server_host):
        problems.append(f"its API server {api.server} is not on a loopback address")
    if not problems:
        nodes = _nodes(api)
        unlabelled = [
            n["metadata"]["name"]
            for n in nodes
            if n["metadata"].get("labels", {}).get(HARNESS_CLUSTER_LABEL) != cluster
        ]
        if not nodes:
            problems.append("it has no nodes")
        elif unlabelled:
            problems.append(
                f"node(s) {', '.join(unlabelled)} lack {HARNESS_CLUSTER_LABEL}={cluster} "
                "(a cluster made before the harness labelled its nodes: "
                "`nox -s cluster-down` then `nox -s cluster-up` recreates it)"
            )
    if problems:
        raise NotHarnessCluster(
            f"refusing to change context {api.context!r}: it is not a kind cluster this harness "
            "created — " + "; ".join(problems)
        )


def check_not_harness_kind(api: KubeApi) -> None:
    """Raise when `api`'s context looks like a kind cluster (for the AKS path)."""
    reasons = []
    if api.context.startswith(KIND_CONTEXT_PREFIX):
        reasons.append(f"its name starts with {KIND_CONTEXT_PREFIX!r}")
    if is_loopback(api.server_host):
        reasons.append(f"its API server {api.server} is on a loopback address")
    labelled = [
        n["metadata"]["name"]
        for n in _nodes(api)
        if HARNESS_CLUSTER_LABEL in n["metadata"].get("labels", {})
    ]
    if labelled:
        reasons.append(f"node(s) {', '.join(labelled[:3])} carry {HARNESS_CLUSTER_LABEL}")
    if reasons:
        raise NotHarnessCluster(
            f"context {api.context!r} is a local kind cluster, not AKS: " + "; ".join(reasons)
        )

"""What design-check reads from rendered manifests: findings, quantities, and each service's
workload (requests, replica range, PDB, placement, custom metric)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]

SEVERITY_ORDER = {"risk": 0, "warn": 1, "info": 2, "ok": 3}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # risk | warn | info | ok
    title: str
    detail: str
    source: str  # the SPEC.md row or chart value it concerns


@dataclass(frozen=True)
class Workload:
    """One service as rendered: per-pod requests, replica range, PDB, placement, custom metric."""

    name: str
    cpu_m: int
    memory_mi: int
    min_replicas: int
    max_replicas: int
    pdb_min_available: int | None
    hard_anti_affinity: bool
    custom_metric: str | None
    metric_provider: str


# --------------------------------------------------------------------------- quantities


def cpu_millis(q: str | int | float) -> int:
    s = str(q)
    return int(s[:-1]) if s.endswith("m") else round(float(s) * 1000)


_MEM_UNITS = {
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024 * 1024,
    "M": 1e6 / 2**20,
    "G": 1e9 / 2**20,
}


def memory_mi(q: str | int) -> int:
    s = str(q)
    m = re.fullmatch(r"([0-9.]+)([KMGT]i?)?", s)
    if not m:
        raise ValueError(f"memory quantity {s!r}")
    value, unit = float(m.group(1)), m.group(2)
    return round(value * _MEM_UNITS[unit]) if unit else round(value / 2**20)


# --------------------------------------------------------------------------- manifests → workloads


def find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    return [
        d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]


def workloads(docs: list[Doc]) -> list[Workload]:
    """The tier=application Deployments with their autoscaler (HPA or ScaledObject) and PDB."""
    out = []
    for dep in find(docs, "Deployment"):
        meta, pod = dep["metadata"], dep["spec"]["template"]["spec"]
        if meta.get("labels", {}).get("tier") != "application":
            continue
        name = meta["name"]
        component = meta["labels"].get("app.kubernetes.io/component", name)
        req = pod["containers"][0]["resources"]["requests"]
        replicas = dep["spec"].get("replicas", 1)
        lo, hi = replicas, replicas
        metric, provider = None, "none"
        for hpa in find(docs, "HorizontalPodAutoscaler", name):
            lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
            ann = hpa["metadata"].get("annotations", {})
            metric = ann.get("tripgen.io/custom-metric")
            provider = ann.get("tripgen.io/custom-metric-provider", "none")
        for so in find(docs, "ScaledObject", name):
            lo, hi = so["spec"].get("minReplicaCount", 0), so["spec"]["maxReplicaCount"]
            ann = so["metadata"].get("annotations", {})
            metric = ann.get("tripgen.io/custom-metric")
            provider = ann.get("tripgen.io/custom-metric-provider", "keda")
        pdbs = find(docs, "PodDisruptionBudget", name)
        min_available = pdbs[0]["spec"].get("minAvailable") if pdbs else None
        anti = pod.get("affinity", {}).get("podAntiAffinity", {})
        hard = any(
            t.get("topologyKey") == "kubernetes.io/hostname"
            for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        )
        out.append(
            Workload(
                name=component,
                cpu_m=cpu_millis(req["cpu"]),
                memory_mi=memory_mi(req["memory"]),
                min_replicas=int(lo),
                max_replicas=int(hi),
                pdb_min_available=None if min_available is None else int(min_available),
                hard_anti_affinity=hard,
                custom_metric=metric,
                metric_provider=provider,
            )
        )
    return sorted(out, key=lambda w: w.name)


# --------------------------------------------------------------------------- checks

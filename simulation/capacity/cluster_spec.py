"""The production cluster the simulation runs: read from the chart rendered by a real Helm and
from the topology model, never restated.

Per service (the rendered Deployment, HorizontalPodAutoscaler, PodDisruptionBudget and the shared
ConfigMap): CPU/memory requests and limits, uvicorn workers per pod (`TRIPGEN_WORKERS`), the
database pool size (`TRIPGEN_DB_POOL_MAX`), the AI worker's planner processes, concurrency and
planner time limit, HPA min/max, metric targets and behaviour, startup and readiness probe
periods, hard pod anti-affinity and zone spread, the PDB's minAvailable. The ingress request
timeout (Application Gateway annotation) bounds how long a queued request may wait. Node pools
(VM size, allocatable, min/max nodes, zones) come from `simulation.k8s.topology`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, cast

from simulation.capacity.hpa import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    HpaSpec,
    MetricTarget,
    ScalingPolicy,
    ScalingRules,
)
from simulation.k8s.chart import render
from simulation.k8s.topology import NodePool, topology

COMPONENT_LABEL = "app.kubernetes.io/component"
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_MEMORY_MIB = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "Ti": 1024.0 * 1024, "": 1 / (1 << 20)}


class ClusterSpecError(ValueError):
    """The rendered chart lacks something the simulation needs (the message names it)."""


def millicores(value: str | int | float) -> int:
    text = str(value)
    return int(float(text[:-1])) if text.endswith("m") else round(float(text) * 1000)


def mebibytes(value: str | int | float) -> float:
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in _MEMORY_MIB:
        raise ClusterSpecError(f"memory quantity {value!r} not understood")
    return float(match.group(1)) * _MEMORY_MIB[match.group(2)]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    cpu_request_m: int
    cpu_limit_m: int
    memory_request_mib: float
    workers: int  # uvicorn worker processes per pod
    db_pool_max: int
    hpa: HpaSpec
    pdb_min_available: int | None
    startup_period_s: float
    readiness_period_s: float
    hard_anti_affinity: bool  # at most one pod of the service per node
    zone_spread: bool
    planner_processes: int = 0  # ai only
    worker_concurrency: int = 0  # ai only
    planner_time_limit_s: float = 0.0  # ai only

    @property
    def api_cores(self) -> float:
        """Cores the HTTP side of one pod can use: one event loop per worker, within the limit."""
        return min(self.cpu_limit_m / 1000, float(self.workers))

    @property
    def generation_slots(self) -> int:
        """Generations one ai pod plans at once: planner processes, bounded by its concurrency."""
        return min(self.planner_processes, self.worker_concurrency)


@dataclass(frozen=True)
class ClusterSpec:
    services: dict[str, ServiceSpec]
    pool: NodePool  # the application pool the services are scheduled on
    system_pool: NodePool | None
    request_timeout_s: float
    source: str

    def describe(self) -> list[str]:
        lines = [f"source: {self.source}"]
        for s in self.services.values():
            lines.append(
                f"{s.name}: {s.cpu_request_m}m→{s.cpu_limit_m}m CPU, {s.workers} worker(s), "
                f"HPA {s.hpa.min_replicas}–{s.hpa.max_replicas} at "
                + ", ".join(f"{m.resource} {m.utilisation:.0%}" for m in s.hpa.metrics)
                + (f", PDB minAvailable {s.pdb_min_available}" if s.pdb_min_available else "")
                + (
                    f", {s.planner_processes} planner processes × {s.planner_time_limit_s:g} s"
                    if s.planner_processes
                    else ""
                )
            )
        p = self.pool
        lines.append(
            f"pool {p.name}: {p.vm_size} × {p.min_count}–{p.max_count} over {', '.join(p.zones)}, "
            f"{p.node_allocatable().cpu_m}m allocatable per node"
        )
        return lines


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    out = {}
    for doc in docs:
        if doc.get("kind") == kind:
            labels = doc.get("metadata", {}).get("labels", {})
            component = labels.get(COMPONENT_LABEL)
            if component:
                out[component] = doc
    return out


def _rules(raw: dict[str, Any] | None, default: ScalingRules) -> ScalingRules:
    """A behaviour direction with Kubernetes' defaulting (unset fields take the default's)."""
    if not raw:
        return default
    policies = tuple(
        ScalingPolicy(p["type"], int(p["value"]), float(p["periodSeconds"]))
        for p in raw.get("policies", [])
    )
    return ScalingRules(
        stabilization_s=float(raw.get("stabilizationWindowSeconds", default.stabilization_s)),
        select=raw.get("selectPolicy", default.select),
        policies=policies or default.policies,
    )


def _hpa(doc: dict[str, Any] | None, replicas: int) -> HpaSpec:
    if doc is None:  # autoscaling off: a fixed replica count
        return HpaSpec(replicas, replicas, ())
    spec = doc["spec"]
    metrics = []
    for metric in spec.get("metrics", []):
        if metric.get("type") != "Resource":
            continue  # custom metrics need an adapter the chart does not provision
        target = metric["resource"]["target"]
        if target.get("type") == "Utilization":
            name = cast(Literal["cpu", "memory"], metric["resource"]["name"])
            metrics.append(MetricTarget(name, float(target["averageUtilization"]) / 100))
    behavior = spec.get("behavior") or {}
    return HpaSpec(
        min_replicas=int(spec.get("minReplicas", 1)),
        max_replicas=int(spec["maxReplicas"]),
        metrics=tuple(metrics),
        scale_up=_rules(behavior.get("scaleUp"), DEFAULT_SCALE_UP),
        scale_down=_rules(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN),
    )


def _env(container: dict[str, Any], config: dict[str, str]) -> dict[str, str]:
    """The container's plain environment: the shared ConfigMap, then its own `env` values."""
    env = dict(config)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
    return env


def _int_env(env: dict[str, str], name: str, where: str) -> int:
    try:
        return int(env[name])
    except (KeyError, ValueError):
        raise ClusterSpecError(f"{where}: {name} missing or not a number") from None


def _service(
    name: str,
    deployment: dict[str, Any],
    hpa: dict[str, Any] | None,
    pdb: dict[str, Any] | None,
    config: dict[str, str],
) -> ServiceSpec:
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    resources = container["resources"]
    env = _env(container, config)
    anti = (pod.get("affinity") or {}).get("podAntiAffinity") or {}
    where = f"Deployment {deployment['metadata']['name']}"
    is_ai = "TRIPGEN_AI_PLANNER_PROCESSES" in env
    return ServiceSpec(
        name=name,
        cpu_request_m=millicores(resources["requests"]["cpu"]),
        cpu_limit_m=millicores(resources["limits"]["cpu"]),
        memory_request_mib=mebibytes(resources["requests"]["memory"]),
        workers=_int_env(env, "TRIPGEN_WORKERS", where),
        db_pool_max=_int_env(env, "TRIPGEN_DB_POOL_MAX", where),
        hpa=_hpa(hpa, int(deployment["spec"].get("replicas") or 1)),
        pdb_min_available=int(pdb["spec"]["minAvailable"])
        if pdb and "minAvailable" in pdb["spec"]
        else None,
        startup_period_s=float(container.get("startupProbe", {}).get("periodSeconds", 10)),
        readiness_period_s=float(container.get("readinessProbe", {}).get("periodSeconds", 10)),
        hard_anti_affinity=bool(anti.get("requiredDuringSchedulingIgnoredDuringExecution")),
        zone_spread=bool(pod.get("topologySpreadConstraints")),
        planner_processes=_int_env(env, "TRIPGEN_AI_PLANNER_PROCESSES", where) if is_ai else 0,
        worker_concurrency=_int_env(env, "TRIPGEN_AI_WORKER_CONCURRENCY", where) if is_ai else 0,
        planner_time_limit_s=float(env.get("TRIPGEN_AI_PLANNER_TIME_LIMIT_S", 0) or 0),
    )


def cluster_from_documents(docs: list[dict[str, Any]], profile: str = "prod") -> ClusterSpec:
    deployments = _by_kind(docs, "Deployment")
    hpas = _by_kind(docs, "HorizontalPodAutoscaler")
    pdbs = _by_kind(docs, "PodDisruptionBudget")
    config: dict[str, str] = {}
    timeout = 60.0  # nginx's proxy_read_timeout default when no ingress annotation says
    for doc in docs:
        if doc.get("kind") == "ConfigMap" and "TRIPGEN_PROFILE" in (doc.get("data") or {}):
            config = {k: str(v) for k, v in doc["data"].items()}
        if doc.get("kind") == "Ingress":
            annotations = doc.get("metadata", {}).get("annotations") or {}
            raw = annotations.get("appgw.ingress.kubernetes.io/request-timeout")
            if raw:
                timeout = float(raw)
    if not config:
        raise ClusterSpecError("the rendered chart has no ConfigMap with TRIPGEN_PROFILE")
    services = {
        name: _service(name, dep, hpas.get(name), pdbs.get(name), config)
        for name, dep in sorted(deployments.items())
        if dep["spec"]["template"]["spec"]["containers"][0]
        .get("command", [None, None, ""])[-1]
        .startswith("services.")
    }
    if not services:
        raise ClusterSpecError("the rendered chart has no service Deployments")
    topo = topology(profile)
    system = next((p for p in topo.pools if not p.runs_application), None)
    return ClusterSpec(
        services=services,
        pool=topo.application_pool,
        system_pool=system,
        request_timeout_s=timeout,
        source=f"helm template charts/tripgen ({profile}) + simulation.k8s.topology ({profile})",
    )


@cache
def prod_cluster(profile: str = "prod") -> ClusterSpec:
    """The prod cluster from the chart rendered with Helm (cached per process)."""
    return cluster_from_documents(render(profile), profile)

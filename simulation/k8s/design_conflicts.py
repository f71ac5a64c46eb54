"""The five conflicts SPEC.md lists, each reported with the choice this repository made and what
the rendered chart shows of it (SPEC.md: findings to surface, not silently resolve).

1. PDB v2 minAvailable = HPA minimum (trip, ai, location);
2. Istio mTLS (002) vs NetworkPolicies (003), istio-system ports still open in 001;
3. WAF rate limit 100 (v1) vs 1000 (v2) req/min/IP; L2 TTL 30 vs 60 min; AI result TTL 1 h vs 2 h;
4. prod cost $2,650 vs $4,200–5,600, D4s_v3 × 3 vs D8s_v3 × 6;
5. HPA custom metrics need a metrics adapter no document provisions.

SPEC.md's rule decides where it can: the `prod` profile follows prod v2 (001).
"""

from __future__ import annotations

from typing import Any

from services.kit.settings import AI_RESULT_TTL_S, L2_TTL_S
from simulation.k8s.design_model import Doc, Finding, Workload, find
from simulation.k8s.topology import Topology

SPEC_RULE = "SPEC.md rule: prod follows prod v2 (001)"
WAF_LIMIT_V2 = 1000  # req/min/IP, SPEC.md › Network and security (v2); v1: 100


def conflict_pdb(ws: list[Workload]) -> Finding:
    blocked = [w.name for w in ws if w.pdb_min_available is not None
               and w.pdb_min_available >= w.min_replicas]  # fmt: skip
    pdbs = ", ".join(f"{w.name} {w.pdb_min_available}/{w.min_replicas}" for w in ws)
    return Finding(
        "conflict/1-pdb-equals-hpa-minimum",
        "risk" if blocked else "ok",
        "SPEC.md conflict 1: PDB minAvailable = HPA minimum — chosen: the documented v2 PDBs",
        f"minAvailable/HPA minimum as rendered: {pdbs}; no voluntary disruption (drain, upgrade, "
        f"zone maintenance) can evict {', '.join(blocked) or 'any service'} at its minimum "
        "(drain/* findings; a kind zone outage reports the blocked evictions)",
        f"SPEC.md › Autoscaling and disruption; {SPEC_RULE}",
    )


def conflict_mesh(docs: list[Doc]) -> Finding:
    istio = [d for d in docs if str(d.get("apiVersion", "")).split("/")[0].endswith("istio.io")]
    injected = [
        d["metadata"]["name"]
        for d in find(docs, "Deployment")
        if d["spec"]["template"]["metadata"].get("annotations", {}).get("sidecar.istio.io/inject")
        == "true"
        or "istio-injection" in d["metadata"].get("labels", {})
    ]
    policies = find(docs, "NetworkPolicy")
    istio_ports = [
        p["metadata"]["name"]
        for p in policies
        for rule in p["spec"].get("ingress", []) + p["spec"].get("egress", [])
        for peer in rule.get("from", []) + rule.get("to", [])
        if peer.get("namespaceSelector", {})
        .get("matchLabels", {})
        .get("kubernetes.io/metadata.name")
        == "istio-system"
    ]
    mesh = bool(istio or injected or istio_ports)
    return Finding(
        "conflict/2-mesh-vs-network-policies",
        "warn" if mesh else "info",
        "SPEC.md conflict 2: Istio mTLS vs NetworkPolicies — chosen: NetworkPolicies, no mesh "
        "(003)",
        f"{len(policies)} NetworkPolicies rendered; Istio resources {len(istio)}, injected "
        f"workloads {len(injected)}, policies opening istio-system {len(istio_ports)}. Without a "
        "mesh there is no mTLS between pods: TLS ends at App Gateway and reaches the managed "
        "stores (sslmode=require, rediss://); pod-to-pod calls are plain HTTP inside the policies",
        "SPEC.md › Conflicts 2 (002 Istio, 003 NetworkPolicies, 001 istio-system ports)",
    )


def conflict_limits_and_ttls(docs: list[Doc], profile: str) -> Finding:
    data: dict[str, Any] = {}
    for cm in find(docs, "ConfigMap", "tripgen-config"):
        data.update(cm.get("data") or {})
    per_user = data.get("TRIPGEN_RATE_LIMIT_PER_MINUTE", "?")
    l2 = int(data.get("TRIPGEN_L2_TTL_S") or L2_TTL_S[profile])
    ai = int(data.get("TRIPGEN_AI_RESULT_TTL_S") or AI_RESULT_TTL_S[profile])
    v2 = profile != "prod" or (l2, ai) == (3600, 7200)
    return Finding(
        "conflict/3-rate-limit-and-ttls",
        "info" if v2 else "warn",
        "SPEC.md conflict 3: WAF 100 vs 1000 req/min/IP, L2 TTL 30 vs 60 min, AI TTL 1 vs 2 h — "
        "chosen: v2 (1000/min/IP, 60 min, 2 h)",
        f"{profile}: L2 TTL {l2 // 60} min, AI result TTL {ai / 3600:g} h (services.kit.settings, "
        f"overridable by TRIPGEN_L2_TTL_S / TRIPGEN_AI_RESULT_TTL_S); the WAF limit of "
        f"{WAF_LIMIT_V2}/min/IP belongs to App Gateway's WAF policy, provisioned outside the "
        "chart; "
        f"the services' own per-user limit (002) is TRIPGEN_RATE_LIMIT_PER_MINUTE = {per_user}",
        f"SPEC.md › Network and security, Data/cache; {SPEC_RULE}",
    )


def conflict_cost(topo: Topology, v1: Topology | None) -> Finding:
    pool = topo.application_pool
    was = f"; prod v1: {v1.application_pool.count} × {v1.application_pool.vm_size}" if v1 else ""
    return Finding(
        "conflict/4-cost-and-nodes",
        "warn",
        f"SPEC.md conflict 4: $2,650 vs $4,200–5,600 — chosen: prod v2 nodes "
        f"({pool.count} × {pool.vm_size})",
        f"{topo.source}: application pool {pool.count}–{pool.max_count} × {pool.vm_size}{was}; "
        "the v2 workload does not fit the v1 pool and the budgets imply different prices per "
        "vCPU (conflict4/* findings); only one of the documented costs can hold",
        f"SPEC.md › Targets (monthly cost) + Compute; {SPEC_RULE}",
    )


def conflict_metrics(ws: list[Workload], keda_ws: list[Workload] | None) -> Finding:
    unserved = [w.name for w in ws if w.custom_metric and w.metric_provider == "none"]
    served = [w.name for w in keda_ws or [] if w.custom_metric and w.metric_provider != "none"]
    return Finding(
        "conflict/5-custom-metrics-adapter",
        "risk" if unserved else "ok",
        "SPEC.md conflict 5: custom HPA metrics without an adapter — chosen: HPAs on CPU/memory in "
        "prod; KEDA as the opt-in adapter (keda.enabled)",
        f"prod: {len(unserved)} custom metric(s) without a provider "
        f"({', '.join(unserved) or '-'}); "
        f"with KEDA (ci/prod-keda-values.yaml) served: {', '.join(served) or '-'}",
        "SPEC.md › Autoscaling and disruption; custom-metrics/* findings",
    )


def check_conflicts(
    docs: list[Doc],
    ws: list[Workload],
    topo: Topology,
    *,
    profile: str,
    v1: Topology | None,
    keda_ws: list[Workload] | None,
) -> list[Finding]:
    """One finding per SPEC.md conflict, with the choice made."""
    return [
        conflict_pdb(ws),
        conflict_mesh(docs),
        conflict_limits_and_ttls(docs, profile),
        conflict_cost(topo, v1),
        conflict_metrics(ws, keda_ws),
    ]

"""design-check's capacity and disruption findings: PDBs vs HPA minimums (SPEC.md conflict 1),
requests vs the application pool's allocatable resources (at HPA max and min, after a zone loss),
the nodes hard anti-affinity needs, the prod v2 workload on the v1 pool and the budgets per vCPU
(conflict 4). Everything is computed from the rendered workloads and `simulation.k8s.topology`."""

from __future__ import annotations

import math

from simulation.k8s.design_model import Finding, Workload
from simulation.k8s.topology import NodePool, Topology


def check_drain(ws: list[Workload]) -> list[Finding]:
    findings = []
    for w in ws:
        if w.pdb_min_available is None:
            continue
        allowed = w.min_replicas - w.pdb_min_available
        blocked = allowed <= 0
        findings.append(
            Finding(
                id=f"drain/{w.name}",
                severity="risk" if blocked else "ok",
                title=(
                    f"{w.name}: PDB minAvailable {w.pdb_min_available} ≥ HPA min {w.min_replicas}"
                    if blocked
                    else f"{w.name}: {allowed} voluntary disruption(s) allowed at HPA minimum"
                ),
                detail=(
                    "no node drain, cluster upgrade or zone maintenance can evict a pod while the "
                    "HPA sits at its minimum (disruptionsAllowed = 0)"
                    if blocked
                    else f"minAvailable {w.pdb_min_available} of {w.min_replicas} at minimum"
                ),
                source="SPEC.md › Autoscaling and disruption (PDB v2); conflict 1",
            )
        )
    return findings


def _demand(ws: list[Workload], at: str) -> tuple[int, int, int]:
    n = {w.name: (w.max_replicas if at == "max" else w.min_replicas) for w in ws}
    return (
        sum(w.cpu_m * n[w.name] for w in ws),
        sum(w.memory_mi * n[w.name] for w in ws),
        sum(n.values()),
    )


def _fit(
    cid: str, label: str, ws: list[Workload], at: str, pool: NodePool, nodes: int, source: str
) -> Finding:
    cpu, mem, pods = _demand(ws, at)
    cap = pool.total(nodes)
    ratios = {
        "CPU": cpu / cap.cpu_m if cap.cpu_m else float("inf"),
        "memory": mem / cap.memory_mib if cap.memory_mib else float("inf"),
        "pods": pods / cap.pods if cap.pods else float("inf"),
    }
    worst = max(ratios.values())
    severity = "risk" if worst > 1 else "warn" if worst > 0.85 else "ok"
    detail = (
        f"requests at HPA {at} {cpu / 1000:.1f} CPU / {mem / 1024:.1f} GiB / {pods} pods vs "
        f"{nodes} × {pool.vm_size} allocatable {cap.cpu_m / 1000:.1f} CPU / "
        f"{cap.memory_mib / 1024:.1f} GiB / {cap.pods} pods → "
        + ", ".join(f"{k} {v:.0%}" for k, v in ratios.items())
    )
    verdict = "does not fit" if worst > 1 else "tight" if worst > 0.85 else "fits"
    return Finding(cid, severity, f"{label}: {verdict}", detail, source)


def check_capacity(ws: list[Workload], topo: Topology) -> list[Finding]:
    pool = topo.application_pool
    src = f"{topo.source}; simulation/k8s/topology.py per-node reserve"
    out = []
    for at, nodes, label in (
        ("max", pool.max_count, f"HPA max on {pool.name} pool at its max ({pool.max_count} nodes)"),
        (
            "max",
            pool.nodes_after_zone_loss(pool.max_count),
            f"HPA max after losing a zone ({pool.nodes_after_zone_loss(pool.max_count)} of "
            f"{pool.max_count} nodes left)",
        ),
        ("min", pool.count, f"HPA min on the pool's start size ({pool.count} nodes)"),
        (
            "min",
            pool.nodes_after_zone_loss(pool.count),
            f"HPA min after losing a zone ({pool.nodes_after_zone_loss(pool.count)} of "
            f"{pool.count} nodes left)",
        ),
    ):
        out.append(_fit(f"capacity/{at}-{nodes}-nodes", label, ws, at, pool, nodes, src))
    return out


def check_nodes_needed(ws: list[Workload], topo: Topology) -> list[Finding]:
    """How many application nodes the HPA maximum needs, and what drives that number."""
    pool = topo.application_pool
    one = pool.node_allocatable()
    cpu, mem, pods = _demand(ws, "max")
    by_resources = max(
        math.ceil(cpu / one.cpu_m), math.ceil(mem / one.memory_mib), math.ceil(pods / one.pods)
    )
    spread = max((w.max_replicas for w in ws if w.hard_anti_affinity), default=0)
    needed = max(by_resources, spread)
    driver = "hard anti-affinity" if spread > by_resources else "requests"
    sev = "risk" if needed > pool.max_count else "warn" if spread > by_resources else "info"
    return [
        Finding(
            "capacity/nodes-needed-at-hpa-max",
            sev,
            f"HPA max needs {needed} of {pool.max_count} {pool.name} nodes, set by {driver}",
            f"requests alone fill {by_resources} × {pool.vm_size}; required hostname "
            f"anti-affinity needs {spread} (the largest HPA max), so the cluster autoscaler adds "
            f"{max(0, needed - by_resources)} nodes that run mostly idle at HPA max",
            "SPEC.md › Compute (pool 6–20), placement (anti-affinity), Autoscaling (HPA max)",
        )
    ]


def check_anti_affinity(ws: list[Workload], topo: Topology) -> list[Finding]:
    pool = topo.application_pool
    after = pool.nodes_after_zone_loss(pool.max_count)
    out = []
    for w in ws:
        if not w.hard_anti_affinity:
            continue
        if w.max_replicas > pool.max_count:
            sev, title = "risk", f"{w.name}: HPA max {w.max_replicas} > {pool.max_count} nodes"
        elif w.max_replicas > after:
            sev = "warn"
            title = f"{w.name}: HPA max {w.max_replicas} > {after} nodes left after a zone loss"
        else:
            sev, title = (
                "ok",
                f"{w.name}: HPA max {w.max_replicas} ≤ {after} nodes after a zone loss",
            )
        out.append(
            Finding(
                f"anti-affinity/{w.name}",
                sev,
                title,
                "required hostname anti-affinity allows one pod of a service per node; "
                f"{max(0, w.max_replicas - after)} replica(s) stay Pending at HPA max while a "
                "zone is down",
                "SPEC.md › Compute, placement (anti-affinity) + Autoscaling (HPA max)",
            )
        )
    return out


def check_v1_pool(ws: list[Workload], v1: Topology) -> list[Finding]:
    pool = v1.application_pool
    f = _fit(
        "conflict4/v2-workload-on-v1-pool",
        f"prod v2 workload at HPA max on the prod v1 pool ({pool.max_count} × {pool.vm_size})",
        ws,
        "max",
        pool,
        pool.max_count,
        f"{v1.source} vs SPEC.md › Per-service resources, prod v2; conflict 4",
    )
    return [f]


def check_cost(v1: Topology, v2: Topology) -> list[Finding]:
    if not v1.monthly_cost_usd or not v2.monthly_cost_usd:
        return []
    v1_cpu, v2_cpu = v1.vcpus(at="count"), v2.vcpus(at="count")
    v1_cost = v1.monthly_cost_usd[0]
    per = {
        f"v1 ${v1_cost:,}": v1_cost / v1_cpu,
        **{f"v2 ${c:,}": c / v2_cpu for c in v2.monthly_cost_usd},
    }
    spread = max(per.values()) / min(per.values())
    return [
        Finding(
            "conflict4/cost-per-vcpu",
            "warn" if spread > 1.25 else "info",
            f"budgets imply ${min(per.values()):.0f}–${max(per.values()):.0f} per node vCPU-month "
            f"({spread:.1f}× apart)",
            f"nodes at start: v1 {v1_cpu} vCPU, v2 {v2_cpu} vCPU ({v2_cpu / v1_cpu:.1f}×) for "
            f"{max(v2.monthly_cost_usd) / v1_cost:.1f}× the budget; "
            + ", ".join(f"{k}: ${v:.0f}/vCPU" for k, v in per.items())
            + " (budgets also cover data stores and networking, so at most one set of prices "
            "can hold)",
            "SPEC.md › Targets (monthly cost) + Compute; conflict 4",
        )
    ]

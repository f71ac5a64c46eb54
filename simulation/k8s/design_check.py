"""Design findings computed from the rendered prod manifests and the topology.

`nox -s design-check` runs

    python -m simulation.k8s.design_check [--profile prod] [--json]

Nothing here is hard-coded prose about the design: every finding is computed from what the chart
renders with `values-prod.yaml` (Deployments, HPAs, PDBs, NetworkPolicies, Ingress, ConfigMap) and
from `simulation.k8s.topology` (node pools, VM sizes, zones, the per-node reserve documented there).
Change a value or a pool and the findings change with it. It informs, it never gates: exit 0.

Checks:
- drain: PDB minAvailable ≥ the replicas at HPA minimum → no voluntary disruption can proceed
  (SPEC.md conflict 1);
- capacity: requests at HPA maximum (and at minimum) vs the application pool's allocatable CPU and
  memory at its max (and start) size, and after losing the zone with the most nodes;
- anti-affinity: required hostname anti-affinity caps a service at one pod per node: HPA max vs
  nodes, also after a zone loss;
- custom metrics: SPEC.md's HPA custom metrics and whether anything provides them (conflict 5),
  in the prod render and with `keda.enabled` (ci/prod-keda-values.yaml);
- v1 pool: the prod v2 workload on the prod v1 application pool (conflict 4);
- cost: the documented monthly budgets against the vCPUs each topology buys (conflict 4);
- network: egress to managed PostgreSQL/Redis, the Redis TLS port, App Gateway as an ingress
  source, and service-to-service calls under SPEC.md's NetworkPolicy.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from simulation.k8s.topology import NodePool, Topology, topology

Doc = dict[str, Any]

SEVERITY_ORDER = {"risk": 0, "warn": 1, "info": 2, "ok": 3}
SPEC_NETPOL_PORTS = {"postgresql": 5432, "redis": 6379}  # SPEC.md › Network and security


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


def _find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    return [
        d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]


def workloads(docs: list[Doc]) -> list[Workload]:
    """The tier=application Deployments with their autoscaler (HPA or ScaledObject) and PDB."""
    out = []
    for dep in _find(docs, "Deployment"):
        meta, pod = dep["metadata"], dep["spec"]["template"]["spec"]
        if meta.get("labels", {}).get("tier") != "application":
            continue
        name = meta["name"]
        component = meta["labels"].get("app.kubernetes.io/component", name)
        req = pod["containers"][0]["resources"]["requests"]
        replicas = dep["spec"].get("replicas", 1)
        lo, hi = replicas, replicas
        metric, provider = None, "none"
        for hpa in _find(docs, "HorizontalPodAutoscaler", name):
            lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
            ann = hpa["metadata"].get("annotations", {})
            metric = ann.get("tripgen.io/custom-metric")
            provider = ann.get("tripgen.io/custom-metric-provider", "none")
        for so in _find(docs, "ScaledObject", name):
            lo, hi = so["spec"].get("minReplicaCount", 0), so["spec"]["maxReplicaCount"]
            ann = so["metadata"].get("annotations", {})
            metric = ann.get("tripgen.io/custom-metric")
            provider = ann.get("tripgen.io/custom-metric-provider", "keda")
        pdbs = _find(docs, "PodDisruptionBudget", name)
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


def check_custom_metrics(ws: list[Workload], keda_ws: list[Workload] | None) -> list[Finding]:
    declared = [w for w in ws if w.custom_metric]
    unserved = [w for w in declared if w.metric_provider == "none"]
    out = [
        Finding(
            "custom-metrics/prod",
            "risk" if unserved else "ok",
            f"{len(unserved)} of {len(declared)} SPEC.md custom HPA metrics have no provider",
            "; ".join(f"{w.name}: {w.custom_metric} → {w.metric_provider}" for w in declared)
            + (
                " — the HPAs scale on CPU/memory only; a metrics adapter (KEDA, Prometheus "
                "adapter) is needed and no document provisions one"
                if unserved
                else ""
            ),
            "SPEC.md › Autoscaling and disruption (custom metric); conflict 5",
        )
    ]
    if keda_ws is not None:
        served = {w.name: w.metric_provider for w in keda_ws if w.custom_metric}
        still = [n for n, p in served.items() if p == "none"]
        out.append(
            Finding(
                "custom-metrics/keda",
                "info",
                f"with keda.enabled: {len(served) - len(still)} of {len(served)} served",
                "; ".join(f"{n} → {p}" for n, p in sorted(served.items()))
                + " (queue length needs only KEDA; rps, active connections and search requests "
                "also need a Prometheus that scrapes /metrics)",
                "ci/prod-keda-values.yaml",
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


def _egress_rules(policy: Doc) -> list[Doc]:
    return list(policy["spec"].get("egress", []))


def check_network(docs: list[Doc]) -> list[Finding]:
    out: list[Finding] = []
    policies = [
        p
        for p in _find(docs, "NetworkPolicy")
        if p["spec"]["podSelector"].get("matchLabels", {}).get("tier") == "application"
    ]
    if not policies:
        return out
    pol = policies[0]
    pod_apps = {
        d["spec"]["template"]["metadata"]["labels"].get("app")
        for d in _find(docs, "StatefulSet") + _find(docs, "Deployment")
    }
    # 1. egress to the data stores: only pod selectors, but the stores are managed (no pods)
    for store, port in SPEC_NETPOL_PORTS.items():
        rules = [
            r for r in _egress_rules(pol) if any(p.get("port") == port for p in r.get("ports", []))
        ]
        peers = [peer for r in rules for peer in r.get("to", [])]
        has_ip = any("ipBlock" in p for p in peers) or any("to" not in r for r in rules)
        in_cluster = store in pod_apps
        if not in_cluster and not has_ip:
            out.append(
                Finding(
                    f"network/egress-{store}",
                    "risk",
                    f"egress to managed {store} ({port}) only allowed to `app: {store}` pods",
                    f"no `app: {store}` pod is rendered (managed service) and the rule has no "
                    f"ipBlock: set networkPolicy.egress.{store}Cidrs to its private-endpoint "
                    "subnet",
                    "SPEC.md › Network and security (prod NetworkPolicy)",
                )
            )
    # 2. the Redis port the services use vs the ports the policy opens (SPEC.md: 6379)
    dep = _find(docs, "Deployment")[0]
    env = {
        e["name"]: e.get("value", "")
        for e in dep["spec"]["template"]["spec"]["containers"][0].get("env", [])
    }
    redis_url = env.get("TRIPGEN_REDIS_URL", "")
    if redis_url:
        parts = urlsplit(redis_url.replace("$(REDIS_PASSWORD)", "x"))
        port = parts.port or 6379
        opened = {
            p["port"]
            for r in _egress_rules(pol)
            for p in r.get("ports", [])
            if any(
                peer.get("podSelector", {}).get("matchLabels", {}).get("app") == "redis"
                for peer in r.get("to", [])
            )
        }
        if port != SPEC_NETPOL_PORTS["redis"]:
            out.append(
                Finding(
                    "network/redis-tls-port",
                    "info" if port in opened else "risk",
                    f"services use {parts.scheme}://…:{port}; SPEC.md opens 6379 only",
                    f"Azure Cache for Redis serves TLS on {port}; the rendered policy opens "
                    f"{sorted(opened)}"
                    + (
                        ""
                        if port in opened
                        else f" — add {port} to networkPolicy.egress.redisPorts"
                    )
                    + "; the NSG row (cache 6379) needs the same change",
                    "SPEC.md › Network and security (NetworkPolicy, NSG) vs TLS in transit",
                )
            )
    # 3. App Gateway is not a namespace
    ingresses = _find(docs, "Ingress")
    agic = any(i["spec"].get("ingressClassName") == "azure-application-gateway" for i in ingresses)
    sources = [f for r in pol["spec"].get("ingress", []) for f in r.get("from", [])]
    if agic and not any("ipBlock" in f for f in sources):
        ns = [
            f["namespaceSelector"]["matchLabels"].get("kubernetes.io/metadata.name")
            for f in sources
            if "namespaceSelector" in f
        ]
        out.append(
            Finding(
                "network/agic-source",
                "risk",
                "App Gateway traffic does not come from the ingress controller's namespace",
                f"ingress allowed from namespace {ns} only; AGIC programs App Gateway to send "
                "straight to pod IPs from its subnet: set networkPolicy.ingress.cidrs",
                "SPEC.md › Network and security (prod NetworkPolicy, App Gateway ingress)",
            )
        )
    # 4. service-to-service calls under SPEC.md's ingress rule
    cms = _find(docs, "ConfigMap")
    urls = [
        k
        for cm in cms
        for k, v in (cm.get("data") or {}).items()
        if re.fullmatch(r"TRIPGEN_[A-Z]+_URL", k) and ":8080" in str(v)
    ]
    intra = any(
        f.get("podSelector", {}).get("matchLabels", {}).get("tier") == "application"
        for f in sources
    )
    if urls:
        out.append(
            Finding(
                "network/service-to-service",
                "info" if intra else "risk",
                "SPEC.md's policy alone blocks service-to-service calls",
                f"services call each other over {', '.join(sorted(urls))}; SPEC.md admits only "
                "the ingress namespace on 8080"
                + (
                    " — the chart adds tier=application → tier=application on 8080"
                    if intra
                    else " and nothing else: the calls will time out"
                ),
                "SPEC.md › Network and security; networkPolicy.ingress.allowIntraApplication",
            )
        )
    return out


def compute_findings(
    docs: list[Doc],
    topo: Topology,
    *,
    v1: Topology | None = None,
    keda_docs: list[Doc] | None = None,
) -> list[Finding]:
    """All findings for rendered `docs` on `topo` (v1 topology and a KEDA render optional)."""
    ws = workloads(docs)
    findings = check_drain(ws) + check_capacity(ws, topo) + check_nodes_needed(ws, topo)
    findings += check_anti_affinity(ws, topo)
    findings += check_custom_metrics(ws, workloads(keda_docs) if keda_docs is not None else None)
    if v1 is not None:
        findings += check_v1_pool(ws, v1) + check_cost(v1, topo)
    findings += check_network(docs)
    return findings


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.k8s.design_check", description=__doc__
    )
    parser.add_argument("--profile", default="prod", help="chart profile to render (default prod)")
    parser.add_argument("--json", action="store_true", help="print findings as JSON")
    args = parser.parse_args(argv)

    from simulation.k8s import chart

    docs = chart.render(args.profile)
    keda_docs = chart.render("ci:prod-keda") if args.profile == "prod" else None
    topo = topology("prod" if args.profile.startswith("prod") else "dev")
    findings = compute_findings(docs, topo, v1=topology("prod-v1"), keda_docs=keda_docs)
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.id))
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=2, ensure_ascii=False))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    colours = {"risk": "red", "warn": "yellow", "info": "cyan", "ok": "green"}
    table = Table(title=f"design-check: {args.profile} chart on {topo.source}", show_lines=True)
    for col in ("severity", "finding", "computed", "source"):
        table.add_column(col, overflow="fold")
    for f in findings:
        c = colours[f.severity]
        table.add_row(f"[{c}]{f.severity}[/]", f.title, f.detail, f.source)
    console.print(table)
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITY_ORDER}
    console.print(
        ", ".join(f"{n} {s}" for s, n in counts.items())
        + " — informational; design-check never fails the build"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

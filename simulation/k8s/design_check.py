"""Design findings computed from the rendered prod manifests and the topology.

`nox -s design-check` runs

    python -m simulation.k8s.design_check [--profile prod] [--json]

Nothing here is hard-coded prose about the design: every finding is computed from what the chart
renders (Deployments, HPAs, PDBs, NetworkPolicies, ScaledObjects, Ingress, ConfigMap), the values
the profile sets, and `simulation.k8s.topology` (node pools, VM sizes, zones, the per-node reserve
documented there). Change a value or a pool and the findings change with it. It informs, it never
gates: exit 0. The checks, by module:

- `design_conflicts`: each of SPEC.md's five conflicts with the choice made (PDB = HPA minimum;
  Istio vs NetworkPolicies; rate limit and TTLs; cost and nodes; custom-metric adapter);
- `design_capacity`: drains under the PDBs, requests vs the application pool at HPA max/min and
  after a zone loss, the nodes hard anti-affinity needs, the v2 workload on the v1 pool, cost;
- `design_network`: the rendered policies vs the matrix of docs/contracts.md, the managed stores,
  the Redis TLS port, App Gateway as a source, service-to-service calls, Prometheus scrapes, and
  whether each SPEC.md custom metric has a provider.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from simulation.k8s.design_capacity import (
    check_anti_affinity,
    check_capacity,
    check_cost,
    check_drain,
    check_nodes_needed,
    check_v1_pool,
)
from simulation.k8s.design_conflicts import check_conflicts
from simulation.k8s.design_model import (
    SEVERITY_ORDER,
    Doc,
    Finding,
    Workload,
    cpu_millis,
    memory_mi,
    workloads,
)
from simulation.k8s.design_network import check_custom_metrics, check_network
from simulation.k8s.topology import Topology, topology

__all__ = [
    "SEVERITY_ORDER",
    "Finding",
    "Workload",
    "check_anti_affinity",
    "check_capacity",
    "check_conflicts",
    "check_cost",
    "check_custom_metrics",
    "check_drain",
    "check_network",
    "check_nodes_needed",
    "check_v1_pool",
    "compute_findings",
    "cpu_millis",
    "main",
    "memory_mi",
    "workloads",
]


def compute_findings(
    docs: list[Doc],
    topo: Topology,
    *,
    profile: str = "prod",
    v1: Topology | None = None,
    keda_docs: list[Doc] | None = None,
) -> list[Finding]:
    """All findings for the rendered `docs` of chart `profile` on `topo` (the v1 topology and a
    KEDA render optional)."""
    from simulation.k8s import chart

    ws = workloads(docs)
    keda_ws = workloads(keda_docs) if keda_docs is not None else None
    findings = check_conflicts(
        docs, ws, topo, profile=profile.split("+")[0].removeprefix("ci:"), v1=v1, keda_ws=keda_ws
    )
    findings += check_drain(ws) + check_capacity(ws, topo) + check_nodes_needed(ws, topo)
    findings += check_anti_affinity(ws, topo)
    findings += check_custom_metrics(ws, keda_ws)
    if v1 is not None:
        findings += check_v1_pool(ws, v1) + check_cost(v1, topo)
    findings += check_network(docs, chart.merged_values(profile))
    return findings


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
    topo = topology("prod" if "prod" in args.profile else "dev")
    findings = compute_findings(
        docs, topo, profile=args.profile, v1=topology("prod-v1"), keda_docs=keda_docs
    )
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

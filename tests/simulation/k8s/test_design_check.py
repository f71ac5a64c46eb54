"""simulation.k8s.design_check computes its findings from the rendered manifests and topology."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from simulation.k8s import chart
from simulation.k8s import design_check as dc
from simulation.k8s.topology import topology
from tests.chart.chart_support import Doc, one

PROD = topology("prod")
V1 = topology("prod-v1")


def by_id(findings: list[dc.Finding]) -> dict[str, dc.Finding]:
    return {f.id: f for f in findings}


def test_quantities() -> None:
    assert dc.cpu_millis("500m") == 500
    assert dc.cpu_millis("2") == 2000
    assert dc.cpu_millis("0.5") == 500
    assert dc.memory_mi("1Gi") == 1024
    assert dc.memory_mi("102Mi") == 102
    assert dc.memory_mi("1G") == 954


def test_workloads_read_from_the_prod_render(prod: list[Doc]) -> None:
    # SPEC.md: Per-service resources, prod v2 + Autoscaling and disruption
    ws = {w.name: w for w in dc.workloads(prod)}
    assert set(ws) == {"user", "trip", "ai", "location"}
    assert (ws["trip"].cpu_m, ws["trip"].memory_mi) == (1000, 2048)
    assert (ws["trip"].min_replicas, ws["trip"].max_replicas, ws["trip"].pdb_min_available) == (
        3,
        15,
        3,
    )
    assert ws["ai"].custom_metric == "queue_length > 10"
    assert all(w.hard_anti_affinity for w in ws.values())


def test_drain_blocked_where_pdb_equals_hpa_min(prod: list[Doc]) -> None:
    # SPEC.md conflict 1: PDB v2 = HPA minimum for trip (3/3), ai (2/2), location (2/2)
    f = by_id(dc.check_drain(dc.workloads(prod)))
    assert {k for k, v in f.items() if v.severity == "risk"} == {
        "drain/trip",
        "drain/ai",
        "drain/location",
    }
    assert f["drain/user"].severity == "ok"


def test_drain_finding_follows_the_manifests(prod: list[Doc]) -> None:
    docs = copy.deepcopy(prod)
    one(docs, "PodDisruptionBudget", "tripgen-trip")["spec"]["minAvailable"] = 2
    f = by_id(dc.check_drain(dc.workloads(docs)))
    assert f["drain/trip"].severity == "ok"
    assert "1 voluntary disruption" in f["drain/trip"].title


def test_capacity_at_hpa_max_and_after_zone_loss(prod: list[Doc]) -> None:
    findings = dc.check_capacity(dc.workloads(prod), PROD)
    # 20 × D8s_v3 → 13 nodes after losing the zone holding 7
    assert PROD.application_pool.nodes_after_zone_loss(20) == 13
    assert [f.severity for f in findings] == ["ok", "ok", "ok", "ok"]
    assert "41.0 CPU / 82.0 GiB / 43 pods" in findings[0].detail  # Σ requests × HPA max
    assert "9.5 CPU / 19.0 GiB / 10 pods" in findings[2].detail  # Σ requests × HPA min


def test_capacity_flags_a_pool_that_is_too_small(prod: list[Doc]) -> None:
    app = dataclasses.replace(PROD.application_pool, max_count=5, count=3)
    small = dataclasses.replace(PROD, pools=(PROD.pools[0], app))
    findings = dc.check_capacity(dc.workloads(prod), small)
    assert findings[0].severity == "risk"
    assert "does not fit" in findings[0].title


def test_v2_workload_does_not_fit_the_v1_pool(prod: list[Doc]) -> None:
    # SPEC.md conflict 4: prod nodes D4s_v3 × 3 (v1) vs D8s_v3 × 6 (v2)
    (f,) = dc.check_v1_pool(dc.workloads(prod), V1)
    assert f.severity == "risk"
    assert "CPU 114%" in f.detail


def test_anti_affinity_vs_nodes_after_zone_loss(prod: list[Doc]) -> None:
    f = by_id(dc.check_anti_affinity(dc.workloads(prod), PROD))
    assert f["anti-affinity/trip"].severity == "warn"  # HPA max 15 > 13 nodes
    assert "2 replica(s) stay Pending" in f["anti-affinity/trip"].detail
    assert f["anti-affinity/user"].severity == "ok"
    (needed,) = dc.check_nodes_needed(dc.workloads(prod), PROD)
    assert "needs 15 of 20" in needed.title
    assert "anti-affinity" in needed.title


def test_custom_metrics_without_provider(prod: list[Doc], render) -> None:
    # SPEC.md conflict 5: custom metrics need an adapter no document provisions
    f = by_id(dc.check_custom_metrics(dc.workloads(prod), dc.workloads(render("ci:prod-keda"))))
    assert f["custom-metrics/prod"].severity == "risk"
    assert f["custom-metrics/prod"].title.startswith("4 of 4")
    assert "4 of 4 served" in f["custom-metrics/keda"].title
    assert "ai → keda-servicebus" in f["custom-metrics/keda"].detail


def test_cost_conflict() -> None:
    (f,) = dc.check_cost(V1, PROD)
    # v1 18 vCPU at start, v2 60 vCPU; $2,650 vs $5,600 / $4,200 (SPEC.md › Targets)
    assert "v1 18 vCPU, v2 60 vCPU" in f.detail
    assert f.severity == "warn"


def test_network_findings_follow_the_rendered_policies(prod: list[Doc], render) -> None:
    ids = {f.id: f.severity for f in dc.check_network(prod, chart.merged_values("prod"))}
    assert ids["network/matrix"] == "ok"
    assert ids["network/egress-postgresql"] == "ok"  # ci/aks-values.yaml: the operator's subnets
    assert ids["network/egress-redis"] == "ok"
    assert ids["network/agic-source"] == "ok"
    assert ids["network/redis-tls-port"] == "info"  # 6380 opened by values-prod.yaml
    assert ids["network/service-to-service"] == "info"
    # without the App Gateway subnet and the PostgreSQL subnet, the policies say so
    docs = render("prod")
    cut = copy.deepcopy(docs)
    for pol in (d for d in cut if d["kind"] == "NetworkPolicy"):
        for rule in pol["spec"].get("ingress", []) + pol["spec"].get("egress", []):
            for key in ("from", "to"):
                if key in rule:
                    rule[key] = [p for p in rule[key] if "ipBlock" not in p] or [
                        {"podSelector": {"matchLabels": {"nothing": "here"}}}
                    ]
    broken = {f.id: f.severity for f in dc.check_network(cut, chart.merged_values("prod"))}
    assert broken["network/matrix"] == "risk"
    assert broken["network/egress-postgresql"] == "risk"
    assert broken["network/agic-source"] == "risk"
    # KEDA's Prometheus (namespace monitoring) may scrape every service it queries
    keda_findings = dc.check_network(render("ci:prod-keda"), chart.merged_values("ci:prod-keda"))
    keda = {f.id: f.severity for f in keda_findings}
    scrapes = {k: v for k, v in keda.items() if k.startswith("network/prometheus-scrape-")}
    assert scrapes == {f"network/prometheus-scrape-{s}": "ok" for s in ("user", "trip", "location")}


def test_every_spec_conflict_is_reported_with_the_choice(prod: list[Doc], render) -> None:
    findings = dc.check_conflicts(
        prod, dc.workloads(prod), PROD, profile="prod", v1=V1,
        keda_ws=dc.workloads(render("ci:prod-keda")),
    )  # fmt: skip
    by = {f.id.split("-")[0]: f for f in findings}
    # SPEC.md › Conflicts and risks: five of them, each with "chosen:"
    assert sorted(by) == [f"conflict/{n}" for n in range(1, 6)]
    assert all("chosen:" in f.title for f in findings)
    assert by["conflict/1"].severity == "risk"
    assert "trip 3/3" in by["conflict/1"].detail
    assert "NetworkPolicies, no mesh" in by["conflict/2"].title
    assert "Istio resources 0" in by["conflict/2"].detail
    # SPEC.md conflict 3: prod follows v2 — L2 TTL 60 min, AI result TTL 2 h, WAF 1000/min/IP
    assert "L2 TTL 60 min, AI result TTL 2 h" in by["conflict/3"].detail
    assert "1000/min/IP" in by["conflict/3"].detail
    assert "TRIPGEN_RATE_LIMIT_PER_MINUTE = 100" in by["conflict/3"].detail
    assert by["conflict/3"].severity == "info"
    assert "6 × Standard_D8s_v3" in by["conflict/4"].title
    assert "served: ai, location, trip, user" in by["conflict/5"].detail


def test_a_ttl_that_is_not_v2_is_flagged(prod: list[Doc]) -> None:
    docs = copy.deepcopy(prod)
    one(docs, "ConfigMap", "tripgen-config")["data"]["TRIPGEN_L2_TTL_S"] = "1800"
    found = dc.check_conflicts(docs, dc.workloads(docs), PROD, profile="prod", v1=V1, keda_ws=None)
    (f,) = [c for c in found if c.id.startswith("conflict/3")]
    assert f.severity == "warn"
    assert "L2 TTL 30 min" in f.detail


def test_main_prints_a_table_and_exits_zero(capsys: pytest.CaptureFixture[str], helm) -> None:
    assert dc.main([]) == 0
    out = capsys.readouterr().out
    assert "design-check" in out
    assert "never fails the build" in out
    assert dc.main(["--json"]) == 0

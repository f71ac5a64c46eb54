"""values-kind.yaml: prod-sim = prod with in-cluster stores, scaled requests and no Azure."""

from __future__ import annotations

import pytest
import yaml

from simulation.k8s import chart
from simulation.k8s.topology import ZONE_LABEL, kind_config
from tests.chart.chart_support import SERVICES, Doc, container, one

KIND_VALUES = yaml.safe_load((chart.CHART_DIR / "values-kind.yaml").read_text())
FACTOR = KIND_VALUES["resourcesScale"]
# SPEC.md › Per-service resources, prod v2 requests (cpu millicores, memory MiB).
PROD_V2_REQUESTS = {
    "user": (500, 1024),
    "trip": (1000, 2048),
    "ai": (2000, 4096),
    "location": (500, 1024),
}


def test_kind_factor_is_one_documented_number() -> None:
    assert FACTOR == 0.1
    assert "resourcesScale" in (chart.CHART_DIR / "values-kind.yaml").read_text()


@pytest.mark.parametrize("svc", SERVICES)
def test_kind_scales_requests_by_the_factor_only(
    prod_kind: list[Doc], prod: list[Doc], svc: str
) -> None:
    # SPEC.md: Per-service resources, prod v2 — requests × resourcesScale, limits unchanged
    cpu_m, mem_mi = PROD_V2_REQUESTS[svc]
    res = container(one(prod_kind, "Deployment", f"tripgen-{svc}"))["resources"]
    assert res["requests"] == {
        "cpu": f"{int(cpu_m * FACTOR)}m",
        "memory": f"{int(mem_mi * FACTOR)}Mi",
    }
    prod_limits = container(one(prod, "Deployment", f"tripgen-{svc}"))["resources"]["limits"]
    assert res["limits"] == prod_limits


@pytest.mark.parametrize("svc", SERVICES)
def test_kind_keeps_prod_placement_and_autoscaling(prod_kind: list[Doc], svc: str) -> None:
    # prod-sim exercises the prod placement (SPEC.md: Compute, placement) and HPA on kind's zones
    pod = one(prod_kind, "Deployment", f"tripgen-{svc}")["spec"]["template"]["spec"]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == ZONE_LABEL
    assert pod["tolerations"][0]["key"] == "application-workload"
    assert one(prod_kind, "HorizontalPodAutoscaler", f"tripgen-{svc}")
    assert one(prod_kind, "PodDisruptionBudget", f"tripgen-{svc}")


def test_kind_in_cluster_stores_plain_secrets_nginx(prod_kind: list[Doc]) -> None:
    assert one(prod_kind, "StatefulSet", "tripgen-postgresql")
    assert one(prod_kind, "StatefulSet", "tripgen-redis")
    assert one(prod_kind, "Secret", "tripgen-secrets")
    assert not chart.find(prod_kind, "SecretProviderClass")
    assert not chart.find(prod_kind, "ScaledObject")  # KEDA off
    ing = one(prod_kind, "Ingress", "tripgen")
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert not any(k.startswith("appgw.") for k in ing["metadata"].get("annotations", {}))
    data = one(prod_kind, "ConfigMap", "tripgen-config")["data"]
    assert data["TRIPGEN_QUEUE_BACKEND"] == "redis"


def test_kind_network_policy_admits_ingress_nginx(prod_kind: list[Doc]) -> None:
    pol = one(prod_kind, "NetworkPolicy", "tripgen-user")
    selectors = [
        f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in pol["spec"]["ingress"]
        for f in rule["from"]
        if "namespaceSelector" in f
    ]
    assert selectors == ["ingress-nginx"]


def test_kind_nodes_can_host_the_pods() -> None:
    # the chart's toleration + node affinity select the workers kind-config.yaml taints and labels
    nodes = kind_config("prod-sim")["nodes"]
    app_nodes = [n for n in nodes if n.get("labels", {}).get("application-workload") == "true"]
    assert len(app_nodes) == 6
    for node in app_nodes:
        patch = yaml.safe_load(node["kubeadmConfigPatches"][0])
        assert patch["nodeRegistration"]["taints"] == [
            {"key": "application-workload", "value": "true", "effect": "NoSchedule"}
        ]
    # the data stores have no toleration, so they land on the untainted system workers
    system = [n for n in nodes if n.get("labels", {}).get("agentpool") == "system"]
    assert len(system) == 3
    assert all("kubeadmConfigPatches" not in n for n in system)


def test_kind_prod_sim_loads_the_dev_sample_data(prod_kind: list[Doc], prod: list[Doc]) -> None:
    # SPEC.md › Dev data initialisation: schema → sample → validation; prod itself: schema only.
    jobs = {d["metadata"]["name"] for d in chart.find(prod_kind, "Job")}
    assert jobs == {f"tripgen-datainit-{step}" for step in ("schema", "sample", "validate")}
    assert {d["metadata"]["name"] for d in chart.find(prod, "Job")} == {"tripgen-datainit-schema"}
    sample = container(one(prod_kind, "Job", "tripgen-datainit-sample"))
    assert {"name": "TRIPGEN_DATAINIT_PROFILE", "value": "dev"} in sample["env"]
    schema = container(one(prod_kind, "Job", "tripgen-datainit-schema"))
    assert all(e["name"] != "TRIPGEN_DATAINIT_PROFILE" for e in schema.get("env", []))

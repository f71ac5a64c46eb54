"""simulation.k8s.topology: SPEC.md's pools per profile and the kind configs generated from them."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from simulation.k8s import topology as topo_mod
from simulation.k8s.topology import (
    APPLICATION_TAINT,
    KIND_CONFIG_PATH,
    ZONE_LABEL,
    ZONES,
    kind_config,
    kind_config_yaml,
    topology,
)


def test_checked_in_kind_config_equals_the_generator() -> None:
    # kind-config.yaml is the prod-sim cluster; regenerate with
    # `python -m simulation.k8s.topology kind-config prod-sim --write kind-config.yaml`
    assert KIND_CONFIG_PATH.read_text(encoding="utf-8") == kind_config_yaml("prod-sim")


def test_spec_prod_v2_pools() -> None:
    # SPEC.md: Compute, prod v2 (001)
    t = topology("prod")
    system, app = t.pool("system"), t.pool("application")
    assert (system.vm_size, system.count, system.min_count, system.max_count) == (
        "Standard_D4s_v3", 3, 3, 5,
    )  # fmt: skip
    assert (app.vm_size, app.count, app.min_count, app.max_count) == (
        "Standard_D8s_v3", 6, 6, 20,
    )  # fmt: skip
    assert app.taints == (APPLICATION_TAINT,)
    assert str(APPLICATION_TAINT) == "application-workload=true:NoSchedule"
    assert (
        system.zones == app.zones == ZONES == ("koreacentral-1", "koreacentral-2", "koreacentral-3")
    )
    assert (app.vm.vcpu, app.vm.memory_gib) == (8, 32)


def test_spec_prod_v1_and_dev_pools() -> None:
    # SPEC.md: Compute, prod v1 (000) and dev (004)
    v1 = topology("prod-v1")
    assert (v1.pool("system").vm_size, v1.pool("application").vm_size) == (
        "Standard_D2s_v3",
        "Standard_D4s_v3",
    )
    assert (v1.application_pool.min_count, v1.application_pool.max_count) == (3, 10)
    dev = topology("dev")
    (pool,) = dev.pools
    assert (pool.vm_size, pool.count, pool.spot, pool.max_pods) == ("Standard_B2s", 2, True, 30)
    assert pool.zones == ("koreacentral-1",)
    assert dev.application_pool is pool
    assert not pool.taints


def test_allocatable_uses_the_documented_reserve() -> None:
    # AKS ≥ 1.29: kube-reserved CPU 180m on 8 cores; memory min(20 MiB × 30 pods + 50, 25 %) = 650
    # MiB; eviction 100 MiB; plus the DaemonSet allowance documented in topology.py
    a = topology("prod").application_pool.node_allocatable()
    assert a.cpu_m == 8000 - 180 - topo_mod.DAEMONSET_CPU_M
    assert a.memory_mib == 32 * 1024 - 650 - 100 - topo_mod.DAEMONSET_MEMORY_MIB
    assert a.pods == 30


def test_zone_loss_arithmetic() -> None:
    app = topology("prod").application_pool
    assert app.nodes_per_zone(20) == {"koreacentral-1": 7, "koreacentral-2": 7, "koreacentral-3": 6}
    assert app.nodes_after_zone_loss(20) == 13
    assert app.nodes_after_zone_loss(6) == 4
    assert topology("dev").application_pool.nodes_after_zone_loss(2) == 0


def test_prod_sim_nodes() -> None:
    # issue 5: 1 control-plane (ingress-ready, 80/443 mapped) + system pool 3 workers (zones 1,2,3)
    # + application pool 6 workers (2 per zone), labelled with the zone and tainted like AKS
    nodes = kind_config("prod-sim")["nodes"]
    cp = [n for n in nodes if n["role"] == "control-plane"]
    workers = [n for n in nodes if n["role"] == "worker"]
    assert len(cp) == 1
    assert len(workers) == 9
    assert "ingress-ready=true" in cp[0]["kubeadmConfigPatches"][0]
    assert {(m["containerPort"], m["hostPort"]) for m in cp[0]["extraPortMappings"]} == {
        (80, 80),
        (443, 443),
    }
    system = [n for n in workers if n["labels"]["agentpool"] == "system"]
    app = [n for n in workers if n["labels"]["agentpool"] == "application"]
    assert Counter(n["labels"][ZONE_LABEL] for n in system) == Counter(ZONES)
    assert Counter(n["labels"][ZONE_LABEL] for n in app) == {z: 2 for z in ZONES}
    for node in app:
        patch = yaml.safe_load(node["kubeadmConfigPatches"][0])
        assert patch["kind"] == "JoinConfiguration"
        assert patch["nodeRegistration"]["taints"] == [
            {"key": "application-workload", "value": "true", "effect": "NoSchedule"}
        ]
        assert node["labels"]["application-workload"] == "true"
    assert all("kubeadmConfigPatches" not in n for n in system)
    assert all(n["image"].startswith("kindest/node:v1.29.") for n in nodes)  # SPEC.md: 1.29


def test_dev_sim_nodes() -> None:
    # issue 5: dev-sim = control-plane + 2 workers in one zone
    cfg = kind_config("dev-sim")
    workers = [n for n in cfg["nodes"] if n["role"] == "worker"]
    assert len(cfg["nodes"]) == 3
    assert len(workers) == 2
    assert {n["labels"][ZONE_LABEL] for n in workers} == {"koreacentral-1"}
    assert all("kubeadmConfigPatches" not in n for n in workers)
    assert cfg["name"] == "tripgen-dev-sim"


def test_kind_config_yaml_is_valid_kind_yaml() -> None:
    for sim in ("prod-sim", "dev-sim"):
        doc = yaml.safe_load(kind_config_yaml(sim))
        assert doc == kind_config(sim)
        assert doc["apiVersion"] == "kind.x-k8s.io/v1alpha4"


def test_unknown_names_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown profile"):
        topology("staging")
    with pytest.raises(KeyError, match="unknown simulation"):
        kind_config("qa-sim")


def test_cli_writes_and_prints(tmp_path, capsys) -> None:
    out = tmp_path / "kind.yaml"
    assert topo_mod.main(["kind-config", "prod-sim", "--write", str(out)]) == 0
    assert out.read_text() == kind_config_yaml("prod-sim")
    assert topo_mod.main(["kind-config", "dev-sim"]) == 0
    assert "tripgen-dev-sim" in capsys.readouterr().out
    assert topo_mod.main(["show", "prod"]) == 0

"""The one topology definition: profiles → node pools, zones, taints, and the kind cluster configs.

Every figure is `SPEC.md` › Compute (dev `004`, prod v1 `000`, prod v2 `001`); the `prod` profile
follows prod v2 (SPEC.md rule). The same objects feed three users:

- `kind_config(name)` writes the kind cluster for a simulation (`prod-sim`, `dev-sim`); the
  checked-in `kind-config.yaml` is `prod-sim` and a test keeps it equal to the generator's output;
- `simulation.k8s.design_check` compares the rendered chart with each pool's allocatable resources;
- the platforms name zones and pools from here (`ZONES`, `APPLICATION_TAINT`, `ZONE_LABEL`).

Zones are labelled like AKS labels them (`topology.kubernetes.io/zone=koreacentral-1`), so the
chart, chaos experiments and the capacity model see the same names on kind and on AKS.

CLI::

    python -m simulation.k8s.topology show [PROFILE]          # pools and allocatable resources
    python -m simulation.k8s.topology kind-config SIM [--write PATH]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
KIND_CONFIG_PATH = REPO_ROOT / "kind-config.yaml"

KUBERNETES_VERSION = "1.29"  # SPEC.md › Compute: Kubernetes 1.29 (dev, v1, v2)
REGION = "koreacentral"
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
POOL_LABEL = "agentpool"  # what AKS labels every node with (its pool's name)
MODE_LABEL = "kubernetes.azure.com/mode"  # AKS: system | user
APPLICATION_LABEL = "application-workload"  # node label the chart's node affinity selects
# Every node of a harness kind cluster carries this label (value: the cluster's name), so a
# cluster-changing step can tell a harness cluster from any other (k8s/harness_context.py).
HARNESS_CLUSTER_LABEL = "tripgen.io/kind-cluster"
# kind's node image for Kubernetes 1.29, pinned by digest as kind v0.27.0's release notes ask.
KIND_NODE_IMAGE = (
    "kindest/node:v1.29.14@sha256:8703bd94ee24e51b778d5556ae310c6c0fa67d761fae6379c8e0bb480e6fea29"
)


def zone_name(index: int) -> str:
    """The AKS zone label of availability zone `index` (1-based): `koreacentral-1`."""
    return f"{REGION}-{index}"


ZONES: tuple[str, ...] = tuple(zone_name(i) for i in (1, 2, 3))


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}"


# SPEC.md › Compute, application pool (v1, v2): taint `application-workload=true:NoSchedule`.
APPLICATION_TAINT = Taint(APPLICATION_LABEL, "true", "NoSchedule")


@dataclass(frozen=True)
class VmSize:
    """An Azure VM size: vCPU and memory as Azure lists them (GiB)."""

    name: str
    vcpu: int
    memory_gib: int


VM_SIZES: dict[str, VmSize] = {
    v.name: v
    for v in (
        VmSize("Standard_B2s", 2, 4),
        VmSize("Standard_D2s_v3", 2, 8),
        VmSize("Standard_D4s_v3", 4, 16),
        VmSize("Standard_D8s_v3", 8, 32),
    )
}

# Per-node reserve subtracted from capacity to get what pods can request. Sources:
# - AKS "node resource reservations" for Kubernetes ≥ 1.29: kube-reserved CPU by core count
#   (table below); kube-reserved memory = min(20 MiB × max pods + 50 MiB, 25 % of memory);
#   eviction threshold memory.available < 100 Mi.
# - A documented allowance for the DaemonSets every AKS node runs (kube-proxy, azure-cni /
#   cilium, CSI disk + file + secrets-store, ama-logs …): DAEMONSET_CPU_M / DAEMONSET_MEMORY_MIB.
#   It is an estimate (sum of their requests on a 1.29 cluster, rounded up), not a measurement.
AKS_KUBE_RESERVED_CPU_M: dict[int, int] = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420}
AKS_EVICTION_MEMORY_MIB = 100
DAEMONSET_CPU_M = 250
DAEMONSET_MEMORY_MIB = 600
DEFAULT_MAX_PODS = 30  # Azure CNI default (SPEC.md dev: max 30 pods/node)


@dataclass(frozen=True)
class Allocatable:
    cpu_m: int
    memory_mib: int
    pods: int


@dataclass(frozen=True)
class NodePool:
    """One AKS node pool; on kind, `count` workers stand in for its nodes."""

    name: str
    mode: str  # "system" | "user"
    vm_size: str
    count: int
    min_count: int
    max_count: int
    zones: tuple[str, ...]
    taints: tuple[Taint, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    spot: bool = False
    max_pods: int = DEFAULT_MAX_PODS
    runs_application: bool = False  # the pool the four services are scheduled on

    @property
    def vm(self) -> VmSize:
        return VM_SIZES[self.vm_size]

    def node_labels(self) -> dict[str, str]:
        """Labels every node of the pool carries (zone excluded: it varies per node)."""
        labels = {POOL_LABEL: self.name, MODE_LABEL: self.mode}
        labels.update(self.labels)
        return labels

    def node_allocatable(self) -> Allocatable:
        """What one node offers to pods: capacity − kube-reserved − eviction − DaemonSets."""
        vm = self.vm
        memory_mib = vm.memory_gib * 1024
        kube_reserved_mem = min(20 * self.max_pods + 50, memory_mib // 4)
        cpu_m = vm.vcpu * 1000 - AKS_KUBE_RESERVED_CPU_M[vm.vcpu] - DAEMONSET_CPU_M
        mem = memory_mib - kube_reserved_mem - AKS_EVICTION_MEMORY_MIB - DAEMONSET_MEMORY_MIB
        return Allocatable(cpu_m=cpu_m, memory_mib=mem, pods=self.max_pods)

    def nodes_per_zone(self, nodes: int) -> dict[str, int]:
        """How `nodes` nodes spread over the pool's zones (AKS balances them; first get more)."""
        base, extra = divmod(nodes, len(self.zones))
        return {z: base + (1 if i < extra else 0) for i, z in enumerate(self.zones)}

    def nodes_after_zone_loss(self, nodes: int) -> int:
        """Nodes left when the zone holding the most of `nodes` goes down (0 for a 1-zone pool)."""
        per_zone = self.nodes_per_zone(nodes)
        return nodes - max(per_zone.values())

    def total(self, nodes: int) -> Allocatable:
        one = self.node_allocatable()
        return Allocatable(one.cpu_m * nodes, one.memory_mib * nodes, one.pods * nodes)


@dataclass(frozen=True)
class Topology:
    """A profile's cluster: Kubernetes version, pools, zones; `source` is the SPEC.md column."""

    profile: str
    source: str
    pools: tuple[NodePool, ...]
    monthly_cost_usd: tuple[int, ...] = ()  # SPEC.md › Targets, monthly cost (as documented)

    @property
    def zones(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for pool in self.pools:
            for zone in pool.zones:
                seen.setdefault(zone, None)
        return tuple(seen)

    @property
    def application_pool(self) -> NodePool:
        """The pool the services run on (dev: the single shared pool)."""
        for pool in self.pools:
            if pool.runs_application:
                return pool
        raise LookupError(f"profile {self.profile} has no application pool")

    def pool(self, name: str) -> NodePool:
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise KeyError(name)

    def vcpus(self, *, at: str = "count") -> int:
        """vCPUs of all pools at their `count`, `min_count` or `max_count`."""
        return sum(getattr(p, at) * p.vm.vcpu for p in self.pools)


_APP_LABELS = {APPLICATION_LABEL: "true"}

PROFILES: dict[str, Topology] = {
    # SPEC.md › Compute, dev (004): 2 × B2s, fixed, zone 1, spot, max 30 pods/node; the
    # application workloads share those 2 nodes (no separate pool, no taint).
    "dev": Topology(
        profile="dev",
        source="SPEC.md › Compute, dev (004)",
        pools=(
            NodePool(
                "system", "system", "Standard_B2s", 2, 2, 2, (zone_name(1),),
                spot=True, max_pods=30, runs_application=True,
            ),
        ),
        monthly_cost_usd=(150,),
    ),
    # SPEC.md › Compute, prod v1 (000).
    "prod-v1": Topology(
        profile="prod-v1",
        source="SPEC.md › Compute, prod v1 (000)",
        pools=(
            NodePool("system", "system", "Standard_D2s_v3", 3, 3, 5, ZONES),
            NodePool(
                "application", "user", "Standard_D4s_v3", 3, 3, 10, ZONES,
                taints=(APPLICATION_TAINT,), labels=_APP_LABELS, runs_application=True,
            ),
        ),
        monthly_cost_usd=(2650,),
    ),
    # SPEC.md › Compute, prod v2 (001) — what the `prod` profile follows.
    "prod": Topology(
        profile="prod",
        source="SPEC.md › Compute, prod v2 (001)",
        pools=(
            NodePool("system", "system", "Standard_D4s_v3", 3, 3, 5, ZONES),
            NodePool(
                "application", "user", "Standard_D8s_v3", 6, 6, 20, ZONES,
                taints=(APPLICATION_TAINT,), labels=_APP_LABELS, runs_application=True,
            ),
        ),
        monthly_cost_usd=(5600, 4200),
    ),
}  # fmt: skip

# The kind simulations and the profile each one stands in for.
SIMULATIONS: dict[str, str] = {"prod-sim": "prod", "dev-sim": "dev"}


def topology(profile: str) -> Topology:
    """The topology of `profile` (`dev`, `prod`, `prod-v1`)."""
    try:
        return PROFILES[profile]
    except KeyError:
        raise KeyError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}") from None


# --------------------------------------------------------------------------- kind configs


def _join_patch(taints: tuple[Taint, ...]) -> str:
    """A kubeadm JoinConfiguration patch that registers the node with `taints` (kind has no
    `taints` field; kubeadm's nodeRegistration is how kind's docs add them)."""
    doc = {
        "kind": "JoinConfiguration",
        "nodeRegistration": {
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in taints]
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


_CONTROL_PLANE_PATCH = yaml.safe_dump(
    {
        "kind": "InitConfiguration",
        "nodeRegistration": {"kubeletExtraArgs": {"node-labels": "ingress-ready=true"}},
    },
    sort_keys=False,
)


def kind_nodes(topo: Topology) -> list[dict[str, Any]]:
    """kind `nodes`: one control-plane (ingress-ready, 80/443 mapped) + one worker per pool node,
    spread over the pool's zones in order (2 per zone for a 6-node pool over 3 zones)."""
    nodes: list[dict[str, Any]] = [
        {
            "role": "control-plane",
            "image": KIND_NODE_IMAGE,
            "kubeadmConfigPatches": [_CONTROL_PLANE_PATCH],
            "extraPortMappings": [
                {"containerPort": 80, "hostPort": 80, "protocol": "TCP"},
                {"containerPort": 443, "hostPort": 443, "protocol": "TCP"},
            ],
        }
    ]
    for pool in topo.pools:
        for zone, count in pool.nodes_per_zone(pool.count).items():
            for _ in range(count):
                node: dict[str, Any] = {
                    "role": "worker",
                    "image": KIND_NODE_IMAGE,
                    "labels": {**pool.node_labels(), ZONE_LABEL: zone},
                }
                if pool.taints:
                    node["kubeadmConfigPatches"] = [_join_patch(pool.taints)]
                nodes.append(node)
    return nodes


def kind_config(simulation: str) -> dict[str, Any]:
    """The kind `Cluster` for `prod-sim` or `dev-sim`."""
    try:
        profile = SIMULATIONS[simulation]
    except KeyError:
        raise KeyError(
            f"unknown simulation {simulation!r}; known: {', '.join(SIMULATIONS)}"
        ) from None
    name = f"tripgen-{simulation}"
    nodes = kind_nodes(topology(profile))
    for node in nodes:
        node["labels"] = {HARNESS_CLUSTER_LABEL: name, **node.get("labels", {})}
    return {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": name, "nodes": nodes}


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line strings (the kubeadm patches), as kind's docs write them."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def kind_config_yaml(simulation: str) -> str:
    """`kind_config(simulation)` as the YAML text checked in as `kind-config.yaml`."""
    profile = SIMULATIONS[simulation]
    topo = topology(profile)
    pools = "".join(
        f"#   pool {p.name}: {p.count} × {p.vm_size} over {', '.join(p.zones)}"
        + (f", taint {', '.join(map(str, p.taints))}" if p.taints else "")
        + "\n"
        for p in topo.pools
    )
    header = (
        f"# kind cluster `{simulation}`: the `{profile}` profile's topology ({topo.source}).\n"
        f"{pools}"
        "# Generated by `python -m simulation.k8s.topology kind-config "
        f"{simulation}` from simulation/k8s/topology.py — do not edit by hand.\n"
    )
    body = yaml.dump(kind_config(simulation), Dumper=_Dumper, sort_keys=False, width=100)
    return header + body


# --------------------------------------------------------------------------- CLI


def _show(profile: str) -> None:
    from rich.console import Console
    from rich.table import Table

    topo = topology(profile)
    table = Table(title=f"{profile}: {topo.source}")
    for col in ("pool", "mode", "vm", "count (min–max)", "zones", "taints", "alloc/node"):
        table.add_column(col)
    for p in topo.pools:
        a = p.node_allocatable()
        table.add_row(
            p.name,
            p.mode,
            f"{p.vm_size} ({p.vm.vcpu} vCPU, {p.vm.memory_gib} GiB)",
            f"{p.count} ({p.min_count}–{p.max_count})",
            ", ".join(p.zones),
            ", ".join(map(str, p.taints)) or "—",
            f"{a.cpu_m}m / {a.memory_mib}Mi / {a.pods} pods",
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.k8s.topology", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    show = sub.add_parser("show", help="print a profile's pools")
    show.add_argument("profile", nargs="?", default="prod", choices=sorted(PROFILES))
    kc = sub.add_parser("kind-config", help="print (or --write) a kind cluster config")
    kc.add_argument("simulation", choices=sorted(SIMULATIONS))
    kc.add_argument("--write", type=Path, metavar="PATH", help="write to PATH instead of stdout")
    args = parser.parse_args(argv)
    if args.cmd == "show":
        _show(args.profile)
        return 0
    text = kind_config_yaml(args.simulation)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

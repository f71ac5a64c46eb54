"""The cluster autoscaler's decisions on the application pool, one node group per zone.

Defaults are the cluster autoscaler's own and AKS's autoscaler profile defaults: a scan every
10 s (`scan-interval`); scale up when pods are unschedulable, sizing the new nodes by simulating
the scheduler on empty nodes of the pool's VM size (pods that would fit on nodes already being
provisioned do not ask for more); scale down a node whose requested CPU and memory stay below
half its allocatable (`scale-down-utilization-threshold` 0.5) for 10 minutes
(`scale-down-unneeded-time`), not within 10 minutes of a scale-up (`scale-down-delay-after-add`),
only when each of its pods can move to another node and no PodDisruptionBudget would be broken;
never below a group's minimum or above its maximum; a node not ready within 15 minutes
(`max-node-provision-time`) is given up. The pool's min/max nodes (topology model) are split over
its zones the way AKS balances them (`NodePool.nodes_per_zone`); a lost zone's group takes no
new nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from simulation.capacity.des.state import Node, Pod
from simulation.k8s.topology import NodePool


@dataclass(frozen=True)
class CaSettings:
    scan_interval_s: float = 10.0
    scale_down_utilisation: float = 0.5
    scale_down_unneeded_s: float = 600.0
    scale_down_delay_after_add_s: float = 600.0
    max_node_provision_s: float = 900.0
    max_empty_bulk_delete: int = 10


@dataclass(frozen=True)
class ZoneGroup:
    zone: str
    min_nodes: int
    max_nodes: int


def zone_groups(pool: NodePool) -> tuple[ZoneGroup, ...]:
    """The pool's node count limits per zone (its min and max balanced over its zones)."""
    low = pool.nodes_per_zone(pool.min_count)
    high = pool.nodes_per_zone(pool.max_count)
    return tuple(ZoneGroup(z, low[z], high[z]) for z in pool.zones)


@dataclass
class _Slot:
    """A node as the autoscaler's simulation sees it: free capacity and the services on it."""

    zone: str
    cpu_m: int
    memory_mib: float
    pods: int
    services: set[str] = field(default_factory=set)

    def take(self, pod: Pod) -> bool:
        if self.pods < 1 or pod.cpu_m > self.cpu_m or pod.memory_mib > self.memory_mib:
            return False
        if pod.anti_affinity and pod.service in self.services:
            return False
        self.cpu_m -= pod.cpu_m
        self.memory_mib -= pod.memory_mib
        self.pods -= 1
        self.services.add(pod.service)
        return True


def _slot(node: Node) -> _Slot:
    return _Slot(
        node.zone,
        node.cpu_m - node.requested_cpu_m,
        node.memory_mib - node.requested_memory_mib,
        node.max_pods - len(node.pods),
        {p.service for p in node.pods},
    )


@dataclass(frozen=True)
class ScaleUp:
    add: dict[str, int]  # zone → new nodes
    unplaceable: list[Pod]  # pods no node of the pool could take, even at its maximum


def plan_scale_up(
    pending: Sequence[Pod],
    nodes: Sequence[Node],
    groups: Sequence[ZoneGroup],
    template: Node,
    down_zones: Iterable[str] = (),
) -> ScaleUp:
    """How many nodes per zone the pending pods need (binpacking, largest pod first)."""
    upcoming = [_slot(n) for n in nodes if n.state == "provisioning"]
    count = {
        g.zone: sum(
            1 for n in nodes if n.zone == g.zone and n.state != "deleted" and n.state != "lost"
        )
        for g in groups
    }
    limit = {g.zone: g.max_nodes for g in groups}
    down = set(down_zones)
    new: list[_Slot] = []
    add: dict[str, int] = {}
    unplaceable: list[Pod] = []
    for pod in sorted(pending, key=lambda p: (-p.cpu_m, p.name)):
        if any(slot.take(pod) for slot in upcoming) or any(slot.take(pod) for slot in new):
            continue
        open_zones = [z for z in limit if z not in down and count[z] + add.get(z, 0) < limit[z]]
        if not open_zones:
            unplaceable.append(pod)
            continue
        zone = min(open_zones, key=lambda z: (count[z] + add.get(z, 0), z))
        slot = _Slot(zone, template.cpu_m, template.memory_mib, template.max_pods)
        if not slot.take(pod):
            unplaceable.append(pod)  # larger than an empty node
            continue
        new.append(slot)
        add[zone] = add.get(zone, 0) + 1
    return ScaleUp(add, unplaceable)


def _can_move(node: Node, others: Sequence[Node]) -> bool:
    """Every pod of `node` fits on some other ready node (the autoscaler's drain simulation)."""
    slots = [_slot(n) for n in others]
    return all(any(slot.take(pod) for slot in slots) for pod in node.pods)


def _drainable(node: Node, others: Sequence[Node]) -> bool:
    """`_can_move`, after a quick necessary check: the other nodes' free CPU, memory and pod
    slots together hold the node's pods (most candidates fail here, cheaply)."""
    cpu = sum(n.cpu_m - n.requested_cpu_m for n in others)
    memory = sum(n.memory_mib - n.requested_memory_mib for n in others)
    slots = sum(n.max_pods - len(n.pods) for n in others)
    if (node.requested_cpu_m > cpu or node.requested_memory_mib > memory
            or len(node.pods) > slots):  # fmt: skip
        return False
    return _can_move(node, others)


@dataclass
class DrainMemo:
    """Drain simulations of the last scans, valid while the ready nodes and their pods stay as
    they were (an unneeded node that cannot be drained is asked again every scan)."""

    layout: tuple[tuple[str, int], ...] = ()
    drainable: dict[str, bool] = field(default_factory=dict)

    def refresh(self, ready: Sequence[Node]) -> None:
        layout = tuple((n.name, n.changes) for n in ready)
        if layout != self.layout:
            self.layout, self.drainable = layout, {}

    def check(self, node: Node, ready: Sequence[Node]) -> bool:
        if node.name not in self.drainable:
            self.drainable[node.name] = _drainable(node, [n for n in ready if n is not node])
        return self.drainable[node.name]


def scale_down(
    nodes: Sequence[Node],
    groups: Sequence[ZoneGroup],
    now: float,
    last_scale_up: float,
    settings: CaSettings,
    disruption_allowed: Callable[[Pod], bool],
    memo: DrainMemo | None = None,
) -> list[Node]:
    """Nodes to remove this scan; marks/clears `unneeded_since` on every ready node."""
    memo = memo or DrainMemo()
    ready = [n for n in nodes if n.state == "ready"]
    memo.refresh(ready)
    for node in ready:
        if node.utilisation() < settings.scale_down_utilisation:
            if node.unneeded_since is None:
                node.unneeded_since = now
        else:
            node.unneeded_since = None
    if now - last_scale_up < settings.scale_down_delay_after_add_s:
        return []
    count = {g.zone: sum(1 for n in ready if n.zone == g.zone) for g in groups}
    minimum = {g.zone: g.min_nodes for g in groups}
    removed: list[Node] = []
    for node in sorted(ready, key=lambda n: (n.utilisation(), n.name)):
        if node.unneeded_since is None:
            continue
        if now - node.unneeded_since < settings.scale_down_unneeded_s:
            continue
        if count[node.zone] <= minimum[node.zone]:
            continue
        if node.pods:
            # A non-empty node goes alone per scan, and only when its pods can go elsewhere.
            if removed or not all(disruption_allowed(p) for p in node.pods):
                continue
            if not memo.check(node, ready):
                continue
            return [node]
        removed.append(node)
        count[node.zone] -= 1
        if len(removed) >= settings.max_empty_bulk_delete:
            break
    return removed

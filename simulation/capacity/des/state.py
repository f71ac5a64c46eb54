"""Nodes and pods of the simulated cluster, and the scheduler's placement rules.

Placement follows what the rendered prod chart asks of kube-scheduler: a node must be ready and
have the pod's CPU and memory requests and a pod slot free (allocatable from the topology
model), a service with hard pod anti-affinity runs at most one pod per node, and the zone spread
(`ScheduleAnyway`) prefers the zone holding the fewest pods of the service; ties go to the least
requested node (the default `LeastAllocated` score).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

NodeState = Literal["provisioning", "ready", "lost", "deleted"]
PodPhase = Literal["pending", "starting", "running", "terminated"]
_ids = itertools.count(1)


@dataclass(eq=False)
class Pod:
    service: str
    cpu_m: int
    memory_mib: float
    anti_affinity: bool
    created_at: float
    name: str = ""
    node: Node | None = None
    phase: PodPhase = "pending"
    scheduled_at: float | None = None
    ready: bool = False
    ready_changed_at: float = float("-inf")
    lost_at: float | None = None  # its node was lost; the pod lingers until evicted
    in_endpoints: bool = False  # receives traffic (ready, and not yet taken out after a loss)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"{self.service}-{next(_ids)}"

    @property
    def serving(self) -> bool:
        """Ready and its node alive: requests routed here are answered."""
        return self.ready and self.lost_at is None


@dataclass(eq=False)
class Node:
    zone: str
    cpu_m: int
    memory_mib: int
    max_pods: int
    created_at: float
    state: NodeState = "provisioning"
    name: str = ""
    ready_at: float | None = None
    unneeded_since: float | None = None
    pods: list[Pod] = field(default_factory=list)  # changed by `bind`/`unbind` only
    # The pods' requests, kept as they bind and unbind (the autoscaler asks for them often).
    requested_cpu_m: int = 0
    requested_memory_mib: float = 0.0
    changes: int = 0  # pods bound or unbound so far (a cheap "has it changed" for caches)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"node-{self.zone}-{next(_ids)}"

    def utilisation(self) -> float:
        """The cluster autoscaler's figure: the larger of CPU and memory requested ÷ allocatable."""
        return max(self.requested_cpu_m / self.cpu_m, self.requested_memory_mib / self.memory_mib)

    def has_room(self, cpu_m: int, memory_mib: float, service: str, anti: bool) -> bool:
        if len(self.pods) >= self.max_pods:
            return False
        if self.requested_cpu_m + cpu_m > self.cpu_m:
            return False
        if self.requested_memory_mib + memory_mib > self.memory_mib:
            return False
        return not (anti and any(p.service == service for p in self.pods))

    def fits(self, pod: Pod) -> bool:
        return self.state == "ready" and self.has_room(
            pod.cpu_m, pod.memory_mib, pod.service, pod.anti_affinity
        )


def pods_per_zone(nodes: Iterable[Node], service: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in nodes:
        if node.state in ("ready", "provisioning"):
            counts.setdefault(node.zone, 0)
            counts[node.zone] += sum(1 for p in node.pods if p.service == service)
    return counts


def choose_node(pod: Pod, nodes: list[Node], spread: bool) -> Node | None:
    """The node kube-scheduler would bind `pod` to, or None (the pod stays Pending)."""
    feasible = [n for n in nodes if n.fits(pod)]
    if not feasible:
        return None
    per_zone = pods_per_zone(nodes, pod.service) if spread else {}

    def score(node: Node) -> tuple[int, float]:
        return (per_zone.get(node.zone, 0), node.requested_cpu_m / node.cpu_m)

    return min(feasible, key=score)


def bind(pod: Pod, node: Node, now: float) -> None:
    pod.node = node
    pod.phase = "starting"
    pod.scheduled_at = now
    node.pods.append(pod)
    node.requested_cpu_m += pod.cpu_m
    node.requested_memory_mib += pod.memory_mib
    node.changes += 1


def unbind(pod: Pod) -> None:
    node = pod.node
    if node is not None and pod in node.pods:
        node.pods.remove(pod)
        node.requested_cpu_m -= pod.cpu_m
        node.requested_memory_mib -= pod.memory_mib
        node.changes += 1
    pod.node = None

"""The discrete-event simulation of the prod cluster over time (SimPy).

Processes: one HPA per service (every sync period, `simulation.capacity.hpa`), the metrics
server (every resolution: each pod's CPU over the window, memory as measured), the deployment
controller (creates and deletes pods to match the HPA's replicas; deletes pending, then unready,
then the newest first, as a ReplicaSet does), the scheduler (`des.state.choose_node`), each pod's
start (image pull on a node that lacks it, process start-up measured on prod-sim, the startup and
readiness probes' periods), the cluster autoscaler (`simulation.capacity.autoscaler`, every scan),
each node's provisioning, the zone loss, and the data plane every tick (`des.dataplane`).

A lost zone's nodes stop at once; their pods keep receiving traffic (which fails) until the node
monitor's grace period takes them out of the endpoints, and are replaced only when the
unreachable taint's toleration evicts them — what Kubernetes does by default.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import simpy

from simulation.capacity.assumptions import Assumptions, LogNormal
from simulation.capacity.autoscaler import (
    CaSettings,
    DrainMemo,
    plan_scale_up,
    scale_down,
    zone_groups,
)
from simulation.capacity.cluster_spec import ClusterSpec, ServiceSpec
from simulation.capacity.des.dataplane import DataPlane
from simulation.capacity.des.results import Recorder, SimulationResult
from simulation.capacity.des.state import Node, Pod, bind, choose_node, unbind
from simulation.capacity.hpa import HorizontalPodAutoscaler, PodSample
from simulation.capacity.loadshapes import LoadShape
from simulation.capacity.workload import Workload

Process = Generator[simpy.Event, Any, None]


@dataclass
class SimOptions:
    tick_s: float = 5.0
    samples: int = 16  # latency samples per route and tick
    seed: int = 7
    speed: float | None = None  # None: the assumptions' cpu_speed_ratio
    pod_startup: LogNormal | None = None  # None: the assumptions' (validation overrides)
    extra: dict[str, Any] = field(default_factory=dict)


class Simulation:
    def __init__(
        self,
        cluster: ClusterSpec,
        workload: Workload,
        assumptions: Assumptions,
        shape: LoadShape,
        options: SimOptions | None = None,
    ) -> None:
        self.options = options or SimOptions()
        window = assumptions.kubernetes.metrics_resolution_s
        if abs(window / self.options.tick_s - round(window / self.options.tick_s)) > 1e-9:
            # Otherwise a metrics window holds one tick's CPU one time and two the next, and
            # the HPA sees the utilisation swing by a tick's worth.
            raise ValueError(
                f"tick {self.options.tick_s:g} s must divide the metrics window {window:g} s"
            )
        self.cluster, self.workload, self.a, self.shape = cluster, workload, assumptions, shape
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(self.options.seed)
        self.speed = self.options.speed or assumptions.cpu_speed_ratio
        self.startup = self.options.pod_startup or assumptions.pod_startup_s
        self.ca = CaSettings(**assumptions.cluster_autoscaler.model_dump())
        self.groups = zone_groups(cluster.pool)
        self.template = self._node(cluster.pool.zones[0], ready=False)
        self.nodes: list[Node] = []
        self.pods: dict[str, list[Pod]] = {s: [] for s in cluster.services}
        self.desired = {s: spec.hpa.min_replicas for s, spec in cluster.services.items()}
        self.hpas = {
            s: HorizontalPodAutoscaler(self._hpa_spec(spec)) for s, spec in cluster.services.items()
        }
        self.metrics: dict[str, tuple[float, float]] = {}  # pod → (CPU millicores, at)
        self.images: set[tuple[str, str]] = set()
        self.down_zones: set[str] = set()
        self.last_scale_up = -math.inf
        self.drain_memo = DrainMemo()
        self.data = DataPlane(cluster, workload, self.speed, self.options.samples, self.rng)
        self.rec = Recorder(list(cluster.services), tuple(cluster.pool.zones))

    # -- setup ----------------------------------------------------------------------------------

    def _hpa_spec(self, spec: ServiceSpec) -> Any:
        k = self.a.kubernetes
        metrics = spec.hpa.metrics
        if spec.name not in self.workload.rss_mib:  # no measured memory: CPU only
            metrics = tuple(m for m in metrics if m.resource == "cpu")
        return replace(
            spec.hpa,
            metrics=metrics,
            tolerance=k.hpa_tolerance,
            sync_period_s=k.hpa_sync_period_s,
            cpu_initialization_period_s=k.hpa_cpu_initialization_period_s,
            initial_readiness_delay_s=k.hpa_initial_readiness_delay_s,
        )

    def _node(self, zone: str, *, ready: bool) -> Node:
        alloc = self.cluster.pool.node_allocatable()
        node = Node(zone, alloc.cpu_m, alloc.memory_mib, alloc.pods, self.env.now)
        if ready:
            node.state, node.ready_at = "ready", self.env.now
        return node

    def _bootstrap(self) -> None:
        """The pool at its minimum, every service at its HPA minimum, warm and ready."""
        for zone, count in self.cluster.pool.nodes_per_zone(self.cluster.pool.min_count).items():
            self.nodes += [self._node(zone, ready=True) for _ in range(count)]
        for service, spec in self.cluster.services.items():
            for _ in range(self.desired[service]):
                pod = self._new_pod(spec)
                node = choose_node(pod, self.nodes, spec.zone_spread)
                if node is None:
                    continue
                bind(pod, node, 0.0)
                self.images.add((node.name, service))
                pod.phase, pod.ready, pod.in_endpoints = "running", True, True
                pod.scheduled_at = -self.a.kubernetes.hpa_cpu_initialization_period_s
                pod.ready_changed_at = pod.scheduled_at

    def _new_pod(self, spec: ServiceSpec) -> Pod:
        pod = Pod(
            spec.name,
            spec.cpu_request_m,
            spec.memory_request_mib,
            spec.hard_anti_affinity,
            self.env.now,
        )
        self.pods[spec.name].append(pod)
        return pod

    def _lognormal(self, dist: LogNormal) -> float:
        return float(self.rng.lognormal(dist.mu, dist.sigma))

    # -- pods -----------------------------------------------------------------------------------

    def _alive(self, service: str) -> list[Pod]:
        return [p for p in self.pods[service] if p.phase != "terminated"]

    def _schedule(self) -> None:
        ready = [n for n in self.nodes if n.state == "ready"]
        for service, spec in self.cluster.services.items():
            for pod in self.pods[service]:
                if pod.phase == "pending" and (node := choose_node(pod, ready, spec.zone_spread)):
                    bind(pod, node, self.env.now)
                    self.env.process(self._start(pod, spec))

    def _start(self, pod: Pod, spec: ServiceSpec) -> Process:
        assert pod.node is not None
        key = (pod.node.name, pod.service)
        pull = 0.0 if key in self.images else self.a.image_pull_s
        self.images.add(key)
        probes = self.rng.uniform(0, spec.startup_period_s) + self.rng.uniform(
            0, spec.readiness_period_s
        )
        yield self.env.timeout(pull + self._lognormal(self.startup) + probes)
        if pod.phase != "starting" or pod.lost_at is not None:
            return
        pod.phase, pod.ready, pod.in_endpoints = "running", True, True
        pod.ready_changed_at = self.env.now

    def _terminate(self, pod: Pod) -> None:
        pod.phase, pod.ready, pod.in_endpoints = "terminated", False, False
        unbind(pod)
        self.metrics.pop(pod.name, None)

    def reconcile(self, service: str) -> None:
        """The ReplicaSet: as many live pods as the HPA asked for."""
        alive = self._alive(service)
        spec = self.cluster.services[service]
        missing = self.desired[service] - len(alive)
        if missing > 0:
            for _ in range(missing):
                self._new_pod(spec)
            self._schedule()
        elif missing < 0:
            victims = sorted(alive, key=lambda p: (p.phase != "pending", p.ready, -p.created_at))
            for pod in victims[:-missing]:
                self._terminate(pod)
        self.pods[service] = [p for p in self.pods[service] if p.phase != "terminated"]

    # -- controllers ----------------------------------------------------------------------------

    def _samples(self, spec: ServiceSpec) -> list[PodSample]:
        rss = self.workload.rss_mib.get(spec.name)
        out = []
        for pod in self._alive(spec.name):
            metric = self.metrics.get(pod.name)
            usage = None
            if metric is not None:
                usage = {"cpu": metric[0], "memory": rss if rss is not None else 0.0}
            out.append(
                PodSample(
                    name=pod.name,
                    request={"cpu": float(spec.cpu_request_m), "memory": spec.memory_request_mib},
                    usage=usage,
                    pending=pod.phase == "pending",
                    ready=pod.ready,
                    started_at=pod.scheduled_at if pod.scheduled_at is not None else math.inf,
                    ready_changed_at=pod.ready_changed_at,
                    metric_at=metric[1] if metric else 0.0,
                    metric_window_s=self.a.kubernetes.metrics_resolution_s,
                )
            )
        return out

    def _hpa_loop(self, service: str) -> Process:
        hpa = self.hpas[service]
        yield self.env.timeout(self.rng.uniform(0, hpa.spec.sync_period_s))
        while True:
            spec = self.cluster.services[service]
            before = self.desired[service]
            self.desired[service] = hpa.step(self.env.now, before, self._samples(spec))
            self.rec.hpa_state(
                self.env.now, service, hpa.limited_by_max, before, self.desired[service]
            )
            self.reconcile(service)
            yield self.env.timeout(hpa.spec.sync_period_s)

    def _metrics_loop(self) -> Process:
        window = self.a.kubernetes.metrics_resolution_s
        while True:
            yield self.env.timeout(window)
            used = self.data.take_window_cpu()
            for service in self.cluster.services:
                for pod in self._alive(service):
                    if pod.phase == "running" and pod.lost_at is None:
                        self.metrics[pod.name] = (
                            used.get(pod.name, 0.0) / window * 1000,
                            self.env.now,
                        )
                    else:
                        self.metrics.pop(pod.name, None)

    def _provision(self, node: Node) -> Process:
        delay = self._lognormal(self.a.node_provisioning_s)
        if delay > self.ca.max_node_provision_s:
            yield self.env.timeout(self.ca.max_node_provision_s)
            node.state = "deleted"
            self.rec.event(self.env.now, "node-timeout", f"{node.name} not ready in time")
            return
        yield self.env.timeout(delay)
        if node.zone in self.down_zones:
            node.state = "lost"
            return
        node.state, node.ready_at = "ready", self.env.now
        self._schedule()

    def _disruption_check(self) -> Callable[[Pod], bool]:
        """The PodDisruptionBudgets as they stand this scan: may this pod be evicted?"""
        healthy = {s: sum(1 for p in pods if p.serving) for s, pods in self.pods.items()}

        def allowed(pod: Pod) -> bool:
            minimum = self.cluster.services[pod.service].pdb_min_available
            return minimum is None or healthy[pod.service] - 1 >= minimum

        return allowed

    def _ca_loop(self) -> Process:
        while True:
            yield self.env.timeout(self.ca.scan_interval_s)
            now = self.env.now
            self._schedule()
            pending = [p for s in self.pods for p in self.pods[s] if p.phase == "pending"]
            if pending:
                plan = plan_scale_up(
                    pending, self.nodes, self.groups, self.template, self.down_zones
                )
                for zone, count in plan.add.items():
                    for _ in range(count):
                        node = self._node(zone, ready=False)
                        self.nodes.append(node)
                        self.env.process(self._provision(node))
                if plan.add:
                    self.last_scale_up = now
                if plan.unplaceable:
                    self.rec.pool_full(now, len(plan.unplaceable))
            for node in scale_down(
                self.nodes,
                self.groups,
                now,
                self.last_scale_up,
                self.ca,
                self._disruption_check(),
                self.drain_memo,
            ):
                self._remove_node(node)

    def _remove_node(self, node: Node) -> None:
        node.state = "deleted"
        for pod in list(node.pods):
            self._terminate(pod)
            self.reconcile(pod.service)

    def _zone_loss(self, at: float, zone: str) -> Process:
        yield self.env.timeout(at)
        self.down_zones.add(zone)
        lost: list[Pod] = []
        for node in self.nodes:
            if node.zone == zone and node.state in ("ready", "provisioning"):
                node.state = "lost"
                for pod in node.pods:
                    pod.lost_at = self.env.now
                    lost.append(pod)
        self.rec.event(self.env.now, "zone-lost", f"{zone}: {len(lost)} pods stopped")
        yield self.env.timeout(self.a.kubernetes.node_monitor_grace_period_s)
        for pod in lost:
            pod.ready, pod.in_endpoints, pod.ready_changed_at = False, False, self.env.now
        yield self.env.timeout(self.a.kubernetes.pod_eviction_toleration_s)
        for pod in lost:
            if pod.phase != "terminated":
                self._terminate(pod)
        for service in self.cluster.services:
            self.reconcile(service)
        self.rec.event(self.env.now, "evicted", f"{len(lost)} pods of {zone} evicted")

    def _traffic(self) -> Process:
        dt = self.options.tick_s
        while self.env.now < self.shape.duration_s:
            now = self.env.now
            self.data.judging = now >= self.shape.judged_from_s
            rate = float(self.shape.rate(now))
            tick = self.data.step(rate, dt, self.pods)
            self.rec.tick(now, rate, dt, tick, self.pods, self.desired, self.nodes)
            yield self.env.timeout(dt)

    # -- run ------------------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        self._bootstrap()
        for service in self.cluster.services:
            self.env.process(self._hpa_loop(service))
        self.env.process(self._metrics_loop())
        self.env.process(self._ca_loop())
        if self.shape.zone_loss_at_s is not None and self.shape.zone:
            self.env.process(self._zone_loss(self.shape.zone_loss_at_s, self.shape.zone))
        self.env.process(self._traffic())
        self.env.run(until=self.shape.duration_s)
        return self.rec.result(self.shape, self.data, self.cluster)

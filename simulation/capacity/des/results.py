"""What a simulation run records (a row per tick, events) and what it concludes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from simulation.capacity.cluster_spec import ClusterSpec
from simulation.capacity.des.dataplane import hist_quantile
from simulation.capacity.des.state import Node, Pod
from simulation.capacity.loadshapes import LoadShape

if TYPE_CHECKING:
    from simulation.capacity.des.dataplane import DataPlane, TickResult


@dataclass(frozen=True)
class SimEvent:
    at_s: float
    kind: str  # hpa-max, pool-full, zone-lost, evicted, node-timeout
    text: str


@dataclass
class SimulationResult:
    name: str
    description: str
    duration_s: float
    judged_from_s: float
    series: dict[str, np.ndarray]
    events: list[SimEvent]
    route_p95_ms: dict[str, float | None]
    general_p95_ms: float | None
    ai_p95_ms: float | None
    offered_rps: float  # over the judged window
    throughput_rps: float
    error_rate: float
    max_replicas: dict[str, int]
    hpa_max: dict[str, int]
    max_nodes: int
    node_hours: float  # application pool, over the whole run
    postgres_cores_peak: float
    db_connections_open_peak: int
    breaks: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "offered_rps": round(self.offered_rps, 1),
            "throughput_rps": round(self.throughput_rps, 1),
            "error_rate": self.error_rate,
            "general_p95_ms": self.general_p95_ms,
            "ai_p95_ms": self.ai_p95_ms,
            "route_p95_ms": self.route_p95_ms,
            "max_replicas": self.max_replicas,
            "max_nodes": self.max_nodes,
            "node_hours": round(self.node_hours, 2),
            "postgres_cores_peak": round(self.postgres_cores_peak, 2),
            "db_connections_open_peak": self.db_connections_open_peak,
            "breaks": self.breaks,
            "events": [e.__dict__ for e in self.events[:50]],
            "wall_s": round(self.wall_s, 2),
        }


class Recorder:
    def __init__(self, services: Sequence[str], zones: Sequence[str]) -> None:
        self.services = list(services)
        self.zones = list(zones)
        self.rows: dict[str, list[float]] = {}
        self.events: list[SimEvent] = []
        self._at_max: dict[str, bool] = {s: False for s in services}
        self._pool_full = False

    def _put(self, key: str, value: float) -> None:
        self.rows.setdefault(key, []).append(value)

    def event(self, at: float, kind: str, text: str) -> None:
        self.events.append(SimEvent(at, kind, text))

    def hpa_state(self, at: float, service: str, limited: bool, before: int, after: int) -> None:
        if limited and not self._at_max[service]:
            self.event(at, "hpa-max", f"{service}: HPA wants more than its maximum ({after})")
        self._at_max[service] = limited

    def pool_full(self, at: float, pods: int) -> None:
        if not self._pool_full:
            self.event(at, "pool-full", f"{pods} pending pod(s) fit no node of the pool at max")
        self._pool_full = True

    def tick(
        self,
        now: float,
        rate: float,
        dt: float,
        tick: TickResult,
        pods: dict[str, list[Pod]],
        desired: dict[str, int],
        nodes: list[Node],
    ) -> None:
        self._put("t", now)
        self._put("offered_rps", rate)
        self._put("completed_rps", tick.completed / dt)
        self._put("failed_rps", tick.failed / dt)
        self._put("p95_ms", tick.p95_ms if tick.p95_ms is not None else np.nan)
        self._put("generations_per_s", tick.generations / dt)
        self._put("generation_backlog", tick.generation_backlog)
        self._put("postgres_cores", tick.postgres_cores)
        self._put("db_busy", tick.db_connections_busy)
        self._put("db_open", tick.db_connections_open)
        for s in self.services:
            self._put(f"desired:{s}", desired[s])
            self._put(f"serving:{s}", sum(1 for p in pods[s] if p.serving))
            self._put(f"pending:{s}", sum(1 for p in pods[s] if p.phase == "pending"))
            self._put(f"util:{s}", tick.util.get(s, 0.0))
        for z in self.zones:
            ready = sum(1 for n in nodes if n.zone == z and n.state == "ready")
            self._put(f"nodes:{z}", ready)
        provisioning = sum(1 for n in nodes if n.state == "provisioning")
        billed = sum(1 for n in nodes if n.state in ("ready", "provisioning"))
        self._put("nodes_provisioning", provisioning)
        self._put("nodes", billed)

    def result(self, shape: LoadShape, data: DataPlane, cluster: ClusterSpec) -> SimulationResult:
        data.bin_samples()
        series = {k: np.asarray(v, dtype=float) for k, v in self.rows.items()}
        t = series["t"]
        dt = float(t[1] - t[0]) if len(t) > 1 else 1.0
        judged = t >= shape.judged_from_s
        window = max(float(judged.sum()) * dt, 1e-9)
        offered = float(series["offered_rps"][judged].sum() * dt)
        completed = float(series["completed_rps"][judged].sum() * dt)
        failed = float(series["failed_rps"][judged].sum() * dt)
        routes = {
            name: hist_quantile(data.route_hist[i], 0.95) for i, name in enumerate(data.route_names)
        }
        max_replicas = {s: int(series[f"desired:{s}"].max()) for s in self.services}
        hpa_max = {s: cluster.services[s].hpa.max_replicas for s in self.services}
        result = SimulationResult(
            name=shape.name,
            description=shape.description,
            duration_s=shape.duration_s,
            judged_from_s=shape.judged_from_s,
            series=series,
            events=self.events,
            route_p95_ms=routes,
            general_p95_ms=hist_quantile(data.route_hist.sum(axis=0), 0.95),
            ai_p95_ms=hist_quantile(data.gen_hist[0], 0.95),
            offered_rps=offered / window,
            throughput_rps=completed / window,
            error_rate=failed / offered if offered > 0 else 0.0,
            max_replicas=max_replicas,
            hpa_max=hpa_max,
            max_nodes=int(series["nodes"].max()),
            node_hours=float(series["nodes"].sum() * dt / 3600),
            postgres_cores_peak=float(series["postgres_cores"].max()),
            db_connections_open_peak=int(series["db_open"].max()),
        )
        result.breaks = _breaks(result, self.events)
        return result


def _breaks(result: SimulationResult, events: list[SimEvent]) -> list[str]:
    """Where the documented plan breaks, in words."""
    out: list[str] = []
    for e in events:
        if e.kind in ("hpa-max", "pool-full"):
            out.append(f"t={e.at_s:,.0f} s: {e.text}")
    lost = [e for e in events if e.kind == "zone-lost"]
    if lost and (result.error_rate > 0.001 or result.throughput_rps < 0.99 * result.offered_rps):
        out.append(
            f"after losing a zone: {result.error_rate:.2%} of requests failed and "
            f"{result.throughput_rps:,.0f} of {result.offered_rps:,.0f} req/s were served"
        )
    return out

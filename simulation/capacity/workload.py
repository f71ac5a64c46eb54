"""The workload the simulation replays, calibrated from one measured load step.

From a `LoadResults` (and, when the validation measured them, the load generator's CPU and the
replicas' connection-pool samples):

* the journey mix: each route's share of API requests (locust's per-route counts);
* idle CPU: what each service replica (and nginx, PostgreSQL, Redis) burns with no load —
  outbox relays, queue polling, metric scrapes — when the validation measured it; it is taken
  out before the per-request demand is computed, and the simulations burn it per pod;
* CPU demand (process CPU-seconds per request): per service from its replicas' CPU (less their
  idle CPU) over its requests; inside a service, shared out over its routes by weights — the
  benchmark's CPU per request for the routes it measured one at a time, when a benchmark report
  is given (`simulation.capacity.route_cpu`), else their mean response times (one run cannot
  separate two routes of one process: an estimate); the service's CPU is kept either way; nginx,
  PostgreSQL and Redis per API request; the load generator per request (local model only);
* AI generation: generations per API request and CPU per generation (the ai-service's CPU
  over the run's `ai_generation` samples: its load arrives through the queue);
* latency: each route's measured distribution (locust's histogram when present, else its
  percentiles) and the end-to-end generation times;
* the cache hit ratio (mean of the sampled intervals) and, when sampled, the database
  connection hold time per request (Little's law on the pool's busy connections);
* memory per pod (largest PSS of one replica) for the HPA's memory metric.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runs.results import EndpointStats, LoadResults
from simulation.capacity.calibration import SERVICES, CalibrationError, modelled_service_of
from simulation.capacity.route_cpu import RouteCpu

DEPENDENCIES = ("nginx", "postgresql", "redis")
# The processes of each dependency on the local platform: one server each, or prod-sim's
# PostgreSQL primary + standby and Redis primary + replica (both sides work per request: the
# standby replays what the primary wrote). Sentinels, the failover monitor and monitoring do
# housekeeping, not request work: their idle CPU is all they burn in the model.
DEPENDENCY_PROCESSES = {
    "nginx": ("nginx",),
    "postgresql": ("postgresql", "pg-1", "pg-2"),
    "redis": ("redis", "redis-1", "redis-2"),
}
GENERATION_METRIC = "ai_generation"
# Where a route's share of its service's CPU comes from.
CPU_FROM_BENCHMARK = "benchmark"
CPU_FROM_RESPONSE_TIME = "response time"
Points = tuple[tuple[float, float], ...]  # (cumulative fraction, ms), increasing


def endpoint_points(endpoint: EndpointStats) -> Points:
    """The endpoint's latency distribution as (fraction, ms) points."""
    if endpoint.histogram:
        total = sum(endpoint.histogram.values())
        points: list[tuple[float, float]] = [(0.0, float(endpoint.min_ms))]
        seen = 0
        for ms, count in sorted(endpoint.histogram.items()):
            seen += count
            points.append((seen / total, float(ms)))
        return _monotone(points)
    return _monotone(
        [(f, v) for v, f in sorted(endpoint.percentile_points(), key=lambda p: (p[1], p[0]))]
    )


def sample_points(values: list[float]) -> Points:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return ()
    return _monotone([(i / max(n - 1, 1), v) for i, v in enumerate(ordered)])


def _monotone(points: list[tuple[float, float]]) -> Points:
    """Strictly increasing fractions, non-decreasing values (interpolation-safe)."""
    out: list[tuple[float, float]] = []
    for fraction, value in sorted(points):
        fraction = min(max(fraction, 0.0), 1.0)
        if out and fraction <= out[-1][0]:
            out[-1] = (out[-1][0], max(out[-1][1], value))
            continue
        out.append((fraction, max(value, out[-1][1]) if out else value))
    if out and out[0][0] > 0.0:
        out.insert(0, (0.0, out[0][1]))
    if out and out[-1][0] < 1.0:
        out.append((1.0, out[-1][1]))
    return tuple(out)


@dataclass(frozen=True)
class RouteProfile:
    name: str  # locust's "METHOD /api/<service>/…" key
    service: str
    share: float  # of API requests
    demand_s: float  # CPU-seconds of its service per request
    latency_ms: Points
    mean_ms: float
    p95_ms: float
    cpu_from: str = CPU_FROM_RESPONSE_TIME  # what weighed its share of the service's CPU


@dataclass(frozen=True)
class StepExtras:
    """What the validation measures beside a load run (absent for a plain `nox -s load`)."""

    loadgen_cpu_s: float | None = None
    machine_busy_cores: float | None = None
    db_busy_connections: dict[str, float] = field(default_factory=dict)  # mean, per service
    in_flight: dict[str, float] = field(default_factory=dict)  # mean requests in service
    server_requests: dict[str, float] = field(default_factory=dict)  # completions counted
    # Cores burned with no load: per replica for a service, in all for nginx/postgresql/redis.
    idle_cores: dict[str, float] = field(default_factory=dict)
    # Mean runnable processes outside the deployment and the load generator (sampled), each
    # counted by its CFS weight relative to nice 0.
    other_runnable: float | None = None


@dataclass(frozen=True)
class Workload:
    source: str
    duration_s: float
    users: float  # time-averaged simulated users
    think_s: float  # mean wait between tasks of one user
    api_rps: float
    routes: tuple[RouteProfile, ...]
    service_demand_s: dict[str, float]  # CPU-seconds per request of the service
    dependency_demand_s: dict[str, float]  # CPU-seconds per API request (all routes)
    loadgen_demand_s: float | None
    generations_per_request: float
    generation_cpu_s: float
    generation_ms: Points
    cache_hit_ratio: float | None
    db_hold_s: dict[str, float]
    rss_mib: dict[str, float]
    replicas: dict[str, int]
    idle_cores: dict[str, float] = field(default_factory=dict)  # per replica / per dependency
    route_cpu_source: str = ""  # the benchmark report behind route weights ("" = none)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Workload:
        values = dict(raw)
        values["routes"] = tuple(
            RouteProfile(**{**r, "latency_ms": tuple(tuple(p) for p in r["latency_ms"])})
            for r in raw["routes"]
        )
        values["generation_ms"] = tuple(tuple(p) for p in raw["generation_ms"])
        return cls(**values)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        return path

    def scaled(self, cpu_factor: float) -> Workload:
        """The same workload with every service's CPU per request × `cpu_factor`."""
        routes = tuple(
            RouteProfile(**{**asdict(r), "demand_s": r.demand_s * cpu_factor}) for r in self.routes
        )
        return Workload(
            **{
                **asdict(self),
                "routes": routes,
                "service_demand_s": {k: v * cpu_factor for k, v in self.service_demand_s.items()},
                "generation_cpu_s": self.generation_cpu_s * cpu_factor,
                "generation_ms": self.generation_ms,
            }
        )

    def service_share(self, service: str) -> float:
        return sum(r.share for r in self.routes if r.service == service)


def _users(results: LoadResults) -> float:
    series = [p.users for p in results.timeseries]
    return sum(series) / len(series) if series else float(results.users)


def _busy_cpu_s(results: LoadResults, name: str, idle: dict[str, float]) -> float:
    """CPU-seconds `name` spent on requests: its measured CPU less its idle CPU over the run
    (per replica for a service). Never below a tenth of the measured figure: an idle sample
    taken on a quieter machine must not make the demand vanish."""
    used = results.resource_usage[name]
    copies = used.replicas if name in SERVICES else 1
    idle_s = idle.get(name, 0.0) * max(copies, 1) * results.actual_duration_s
    return max(used.cpu_seconds - idle_s, 0.1 * used.cpu_seconds)


def _routes(
    results: LoadResults, total: int, idle: dict[str, float], route_ms: dict[str, float]
) -> tuple[list[RouteProfile], dict[str, float]]:
    by_service: dict[str, list[EndpointStats]] = {s: [] for s in SERVICES}
    for endpoint in results.endpoints:
        service = modelled_service_of(endpoint.name)
        if service is not None and endpoint.requests:
            by_service[service].append(endpoint)
    usage = results.resource_usage
    demand: dict[str, float] = {}
    routes: list[RouteProfile] = []
    for service, endpoints in by_service.items():
        requests = sum(e.requests for e in endpoints)
        if not requests or service not in usage:
            continue
        demand[service] = _busy_cpu_s(results, service, idle) / requests
        shares = _route_demands(endpoints, demand[service], route_ms)
        for e, (route_demand, cpu_from) in zip(endpoints, shares, strict=True):
            routes.append(
                RouteProfile(
                    name=e.key,
                    service=service,
                    share=e.requests / total,
                    demand_s=route_demand,
                    latency_ms=endpoint_points(e),
                    mean_ms=e.mean_ms,
                    p95_ms=e.p95_ms or e.percentiles_ms.get("95", e.max_ms),
                    cpu_from=cpu_from,
                )
            )
    return routes, demand


def _route_demands(
    endpoints: list[EndpointStats], service_demand_s: float, route_ms: dict[str, float]
) -> list[tuple[float, str]]:
    """Each endpoint's CPU-seconds per request, and what weighed it.

    By default the service's CPU per request scaled by the route's mean response time, so the
    requests together cost what the service measured. When the benchmark measured two or more
    of its routes, those share what their estimates add up to in proportion to its CPU figures
    (the benchmark says how they compare, at its own load); the other routes keep their
    estimates. One measured route has nothing to compare with: it keeps its estimate too.
    """
    requests = sum(e.requests for e in endpoints)
    mean_ms = sum(e.mean_ms * e.requests for e in endpoints) / requests
    by_time = [service_demand_s * (e.mean_ms / mean_ms if mean_ms > 0 else 1.0) for e in endpoints]
    measured = [(e, t) for e, t in zip(endpoints, by_time, strict=True) if route_ms.get(e.key)]
    estimated_s = sum(e.requests * t for e, t in measured)
    benchmark_ms = sum(e.requests * route_ms[e.key] for e, _ in measured)
    if len(measured) < 2 or benchmark_ms <= 0:
        return [(t, CPU_FROM_RESPONSE_TIME) for t in by_time]
    return [
        (route_ms[e.key] * estimated_s / benchmark_ms, CPU_FROM_BENCHMARK)
        if route_ms.get(e.key)
        else (t, CPU_FROM_RESPONSE_TIME)
        for e, t in zip(endpoints, by_time, strict=True)
    ]


def calibrate_workload(
    results: LoadResults,
    extras: StepExtras | None = None,
    source: str = "",
    route_cpu: RouteCpu | None = None,
) -> Workload:
    """The workload of one measured step; CalibrationError when it cannot calibrate.
    `route_cpu` (a benchmark's per-route CPU) weighs each service's routes."""
    extras = extras or StepExtras()
    duration = max(results.actual_duration_s, 1e-9)
    total = sum(e.requests for e in results.endpoints if modelled_service_of(e.name) is not None)
    if total == 0:
        raise CalibrationError("the run has no requests to /api/<service>/… endpoints")
    if not results.resource_usage:
        raise CalibrationError(
            "the run has no CPU per service (resource_usage): run it on the local platform"
        )
    idle = extras.idle_cores
    routes, demand = _routes(results, total, idle, route_cpu.ms_per_request if route_cpu else {})
    usage = results.resource_usage
    generations = results.custom_metrics.get(GENERATION_METRIC)
    gen_samples = [s.value for s in generations.samples if s.ok] if generations else []
    gen_count = len(generations.samples) if generations else 0
    ai_cpu = _busy_cpu_s(results, "ai", idle) if "ai" in usage else 0.0
    cache = results.custom_metrics.get("cache_hit_ratio")
    rps = total / duration
    mean_ms = sum(r.mean_ms * r.share for r in routes)
    users = _users(results)
    # Little's law on the closed loop: N = X × (R + Z) per request, so Z = N/X − R.
    think = max(users / rps - mean_ms / 1000, 0.0) if rps > 0 else 0.0
    return Workload(
        source=source,
        duration_s=duration,
        users=users,
        think_s=think,
        api_rps=rps,
        routes=tuple(routes),
        service_demand_s=demand,
        dependency_demand_s={
            group: sum(_busy_cpu_s(results, p, idle) for p in processes if p in usage) / total
            for group, processes in DEPENDENCY_PROCESSES.items()
            if any(p in usage for p in processes)
        },
        loadgen_demand_s=extras.loadgen_cpu_s / total if extras.loadgen_cpu_s else None,
        generations_per_request=gen_count / total,
        generation_cpu_s=ai_cpu / gen_count if gen_count else 0.0,
        generation_ms=sample_points(gen_samples),
        cache_hit_ratio=cache.summary.mean if cache and cache.samples else None,
        db_hold_s={
            s: busy / (sum(r.share for r in routes if r.service == s) * rps)
            for s, busy in extras.db_busy_connections.items()
            if any(r.service == s for r in routes)
        },
        rss_mib={s: u.max_rss_mb for s, u in usage.items() if u.max_rss_mb is not None},
        replicas=dict(results.replicas),
        idle_cores=dict(idle),
        route_cpu_source=route_cpu.source if route_cpu else "",
    )

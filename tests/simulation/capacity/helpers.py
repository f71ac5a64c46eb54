"""Synthetic inputs the capacity tests share: a calibrated workload with round numbers, a
measured step (`LoadResults`) to calibrate from, and a constant-load scenario."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runs.results import CustomMetric, EndpointStats, LoadResults, Sample, ServiceUsage, TimePoint
from simulation.capacity.loadshapes import LoadShape, Phase
from simulation.capacity.workload import Points, RouteProfile, Workload


def points(median_ms: float) -> Points:
    return ((0.0, median_ms * 0.3), (0.5, median_ms), (0.95, median_ms * 3), (1.0, median_ms * 6))


def synthetic_workload(cpu_factor: float = 1.0) -> Workload:
    routes = (
        RouteProfile(
            "GET /api/locations/places/nearby", "location", 0.45, 0.004, points(8), 10, 24
        ),
        RouteProfile(
            "GET /api/locations/places/search", "location", 0.15, 0.004, points(8), 10, 24
        ),
        RouteProfile("GET /api/users/me", "user", 0.15, 0.003, points(5), 6, 15),
        RouteProfile("GET /api/trips", "trip", 0.15, 0.006, points(10), 12, 30),
        RouteProfile("POST /api/trips/[id]/schedules", "trip", 0.10, 0.010, points(15), 18, 45),
    )
    workload = Workload(
        source="synthetic",
        duration_s=60.0,
        users=50.0,
        think_s=2.0,
        api_rps=25.0,
        routes=routes,
        service_demand_s={"location": 0.004, "user": 0.003, "trip": 0.0076},
        dependency_demand_s={"nginx": 0.0003, "postgresql": 0.001, "redis": 0.0002},
        loadgen_demand_s=0.001,
        generations_per_request=0.01,
        generation_cpu_s=0.9,
        generation_ms=((0.0, 1100.0), (0.5, 1300.0), (0.95, 2000.0), (1.0, 3000.0)),
        cache_hit_ratio=0.9,
        db_hold_s={"trip": 0.002},
        rss_mib={"user": 90.0, "trip": 95.0, "location": 100.0, "ai": 150.0},
        replicas={"user": 3, "trip": 3, "ai": 2, "location": 2},
    )
    return workload.scaled(cpu_factor) if cpu_factor != 1.0 else workload


PHASE = Phase("prod", "test", 1000.0, 50_000, 200.0, 5000.0, 0.001)


def constant(rps: float, hold_s: float = 1500.0, **fields: object) -> LoadShape:
    return LoadShape(
        name=f"prod: {rps:g}",
        duration_s=300.0 + hold_s,
        times_s=(0.0, 300.0, 300.0 + hold_s),
        rps=(rps * 0.1, rps, rps),
        judged_from_s=300.0 + hold_s / 2,
        phase=PHASE,
        **fields,  # type: ignore[arg-type]
    )


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def endpoint(name: str, requests: int, mean: float, method: str = "GET") -> EndpointStats:
    return EndpointStats(
        method=method, name=name, requests=requests, failures=0, mean_ms=mean, min_ms=1,
        max_ms=mean * 8, median_ms=mean, percentiles_ms={"50": mean, "95": mean * 3},
        p95_ms=mean * 3, rps=requests / 100, failures_per_s=0, histogram={int(mean): requests},
    )  # fmt: skip


def measured(cpu: dict[str, float] | None = None) -> LoadResults:
    endpoints = [
        endpoint("/api/locations/places/nearby", 3000, 10.0),
        endpoint("/api/locations/places/[id]", 1000, 5.0),
        endpoint("/api/users/me", 1000, 6.0),
        endpoint("/api/trips/[id]/schedules", 100, 20.0, method="POST"),
    ]
    usage = cpu or {"location": 14.0, "user": 3.0, "trip": 1.0, "ai": 25.0, "nginx": 2.0,
                    "postgresql": 4.0, "redis": 1.0, "prometheus": 3.0}  # fmt: skip
    return LoadResults(
        profile="prod", platform="local", users=40, duration_s=100, started_at=T0,
        ended_at=T0 + timedelta(seconds=100), replicas={"location": 2, "user": 3},
        endpoints=endpoints, totals=endpoint("Aggregated", 5100, 8.6),
        timeseries=[TimePoint(timestamp=T0 + timedelta(seconds=i), users=40, rps=51,
                              failures_per_s=0, requests_total=51 * i, failures_total=0)
                    for i in range(100)],
        resource_usage={k: ServiceUsage(cpu_seconds=v, replicas=2, max_rss_mb=100.0)
                        for k, v in usage.items()},
        custom_metrics={
            "ai_generation": CustomMetric(name="ai_generation", samples=[
                Sample(timestamp=T0, value=1200.0 + i, ok=True) for i in range(25)]),
            "cache_hit_ratio": CustomMetric(name="cache_hit_ratio", unit="ratio", samples=[
                Sample(timestamp=T0, value=0.9), Sample(timestamp=T0, value=0.8)]),
        },
    )  # fmt: skip

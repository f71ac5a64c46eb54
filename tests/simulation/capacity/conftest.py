"""Fixtures of the capacity tests: the prod cluster rendered from the chart, the assumptions
file, and a small synthetic workload (what a calibration produces) with round numbers."""

from __future__ import annotations

import pytest

from simulation.capacity.assumptions import Assumptions, load_assumptions
from simulation.capacity.cluster_spec import ClusterSpec, prod_cluster
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


@pytest.fixture(scope="session")
def cluster() -> ClusterSpec:
    return prod_cluster()


@pytest.fixture(scope="session")
def assumptions() -> Assumptions:
    return load_assumptions()


@pytest.fixture
def workload() -> Workload:
    return synthetic_workload()

"""Per-service demand, no-queue latency and traffic share, from one measured load run."""

from __future__ import annotations

import re
from dataclasses import dataclass

from runs.results import LoadResults
from simulation.capacity.queueing import wait_quantile_s

SERVICES = ("user", "trip", "ai", "location")
_PREFIX = re.compile(r"/api/(users|trips|ai|locations)\b")
_SERVICE_OF_PREFIX = {"users": "user", "trips": "trip", "ai": "ai", "locations": "location"}


def service_of(endpoint_name: str) -> str | None:
    """`GET /api/trips/[id]` → `trip`; names outside the four services → None."""
    match = _PREFIX.search(endpoint_name)
    return _SERVICE_OF_PREFIX[match.group(1)] if match else None


@dataclass(frozen=True)
class ServiceCalibration:
    service: str
    requests: int
    share: float  # of all API requests in the run
    demand_s: float  # CPU-seconds per request (D)
    demand_source: str  # "measured cpu" or "upper bound from latency"
    p50_ms: float
    p95_ms: float
    base_p95_ms: float  # p95 with the modelled queueing of the measured run taken out
    measured_rps: float
    measured_replicas: int
    workers_per_replica: int


class CalibrationError(ValueError):
    """The run cannot calibrate the model (no API traffic, unknown services)."""


def calibrate(results: LoadResults, workers_per_replica: int = 1) -> dict[str, ServiceCalibration]:
    duration = max(results.actual_duration_s, 1e-9)
    per_service: dict[str, list] = {s: [] for s in SERVICES}
    for endpoint in results.endpoints:
        service = service_of(endpoint.name)
        if service is not None and endpoint.requests:
            per_service[service].append(endpoint)
    total = sum(e.requests for eps in per_service.values() for e in eps)
    if total == 0:
        raise CalibrationError("the run has no requests to /api/<service>/… endpoints")
    usage = results.resource_usage
    out: dict[str, ServiceCalibration] = {}
    for service, endpoints in per_service.items():
        requests = sum(e.requests for e in endpoints)
        if not requests:
            continue
        weights = [e.requests / requests for e in endpoints]
        p50 = sum(w * e.median_ms for w, e in zip(weights, endpoints, strict=True))
        p95 = sum(
            w * e.percentiles_ms.get("95", e.max_ms)
            for w, e in zip(weights, endpoints, strict=True)
        )
        replicas = results.replicas.get(service, 1) or 1
        used = usage.get(service) if usage else None
        if used and used.cpu_seconds > 0:
            demand = used.cpu_seconds / requests
            source = "measured cpu"
        else:
            # Without CPU figures the mean latency bounds the demand from above.
            demand = sum(w * e.mean_ms for w, e in zip(weights, endpoints, strict=True)) / 1000
            source = "upper bound from latency"
        rate = requests / duration
        servers = replicas * workers_per_replica
        measured_wait = wait_quantile_s(servers, rate, 1 / demand, 0.95) if demand > 0 else 0.0
        base = max(p50, p95 - (measured_wait * 1000 if measured_wait != float("inf") else 0.0))
        out[service] = ServiceCalibration(
            service=service,
            requests=requests,
            share=requests / total,
            demand_s=demand,
            demand_source=source,
            p50_ms=p50,
            p95_ms=p95,
            base_p95_ms=base,
            measured_rps=rate,
            measured_replicas=replicas,
            workers_per_replica=workers_per_replica,
        )
    return out

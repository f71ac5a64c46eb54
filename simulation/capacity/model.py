"""The steady-state analytic model: where the HPA settles for a constant load, and the p95 there.

For a service with arrival rate λ and CPU demand D per request (÷ the prod/local speed ratio),
the HPA's CPU metric is the pods' mean usage ÷ request, λD / (n × request); approached from below
it settles at n = ceil(λD / (target × request)) (Kubernetes' ceil(current × ratio) with
current × ratio = λD / (target × request)), within [min, max]. Each pod serves with `workers`
event loops of at most one core (and its CPU limit), so the service is an M/M/c queue with
c = n × workers and μ = speed / D; Erlang C gives the p95 wait, added to the measured route
latency. The discrete-event simulation must agree with this where both apply (constant load,
after the HPA settled): `agreement` compares them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from simulation.capacity.cluster_spec import ClusterSpec, ServiceSpec
from simulation.capacity.queueing import wait_quantile_s
from simulation.capacity.workload import Workload

MAX_REPLICAS_SEARCHED = 500


@dataclass(frozen=True)
class ServicePlan:
    service: str
    arrival_rps: float
    hpa_replicas: int  # where the HPA settles (CPU target), unbounded by its maximum
    settled_replicas: int  # the same within [min, max]: what runs
    hpa_min: int
    hpa_max: int
    fits_hpa: bool
    cpu_utilisation: float  # of the request, at settled_replicas
    wait_p95_ms: float  # queueing at settled_replicas (inf when saturated)
    replicas_for_objective: int  # the fewest that keep the route p95 within the objective


@dataclass(frozen=True)
class CapacityPlan:
    target_rps: float
    p95_objective_ms: float
    services: list[ServicePlan]
    pool_cpu_m_max: int
    pool_cpu_m_zone_loss: int
    cpu_requested_m: int

    @property
    def fits_pool(self) -> bool:
        return self.cpu_requested_m <= self.pool_cpu_m_max

    @property
    def survives_zone_loss(self) -> bool:
        return self.cpu_requested_m <= self.pool_cpu_m_zone_loss

    @property
    def fits_hpa(self) -> bool:
        return all(s.fits_hpa for s in self.services)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            fits_pool=self.fits_pool,
            survives_zone_loss=self.survives_zone_loss,
            fits_hpa=self.fits_hpa,
        )
        return out


def service_wait_p95_ms(spec: ServiceSpec, replicas: int, rate: float, demand_s: float) -> float:
    servers = replicas * spec.workers
    mu = min(spec.api_cores / spec.workers, 1.0) / demand_s
    wait = wait_quantile_s(servers, rate, mu, 0.95)
    return math.inf if math.isinf(wait) else wait * 1000


def size_service(
    spec: ServiceSpec,
    rate: float,
    demand_s: float,
    route_p95_ms: float,
    p95_objective_ms: float,
) -> ServicePlan:
    """`demand_s` already divided by the speed ratio; `route_p95_ms` the measured route p95."""
    target = next((m.utilisation for m in spec.hpa.metrics if m.resource == "cpu"), 1.0)
    request = spec.cpu_request_m / 1000
    hpa = max(spec.hpa.min_replicas, math.ceil(rate * demand_s / (target * request) - 1e-9))
    settled = min(hpa, spec.hpa.max_replicas)
    needed = spec.hpa.min_replicas
    while needed < MAX_REPLICAS_SEARCHED:
        wait = service_wait_p95_ms(spec, needed, rate, demand_s)
        if route_p95_ms + wait <= p95_objective_ms:
            break
        needed += 1
    return ServicePlan(
        service=spec.name,
        arrival_rps=rate,
        hpa_replicas=hpa,
        settled_replicas=settled,
        hpa_min=spec.hpa.min_replicas,
        hpa_max=spec.hpa.max_replicas,
        fits_hpa=hpa <= spec.hpa.max_replicas,
        cpu_utilisation=rate * demand_s / (settled * request),
        wait_p95_ms=service_wait_p95_ms(spec, settled, rate, demand_s),
        replicas_for_objective=needed,
    )


def plan(
    workload: Workload,
    cluster: ClusterSpec,
    target_rps: float,
    p95_objective_ms: float,
    speed: float = 1.0,
) -> CapacityPlan:
    services = []
    requested = 0
    for name, spec in cluster.services.items():
        share = workload.service_share(name)
        demand = workload.service_demand_s.get(name, 0.0) / speed
        if share <= 0 or demand <= 0:
            requested += spec.hpa.min_replicas * spec.cpu_request_m
            continue
        routes = [r for r in workload.routes if r.service == name]
        worst = max(r.p95_ms for r in routes)
        result = size_service(spec, target_rps * share, demand, worst, p95_objective_ms)
        services.append(result)
        requested += result.settled_replicas * spec.cpu_request_m
    pool = cluster.pool
    return CapacityPlan(
        target_rps=target_rps,
        p95_objective_ms=p95_objective_ms,
        services=services,
        pool_cpu_m_max=pool.total(pool.max_count).cpu_m,
        pool_cpu_m_zone_loss=pool.total(pool.nodes_after_zone_loss(pool.max_count)).cpu_m,
        cpu_requested_m=requested,
    )

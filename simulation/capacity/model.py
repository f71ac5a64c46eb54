"""Size each service for a target throughput and check the pods against the node pool."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from simulation.capacity.calibration import ServiceCalibration
from simulation.capacity.production import ServiceDeployment
from simulation.capacity.queueing import utilisation, wait_quantile_s
from simulation.k8s.topology import NodePool

MAX_REPLICAS_SEARCHED = 500


@dataclass(frozen=True)
class ServicePlan:
    service: str
    arrival_rps: float
    replicas_needed: int  # the fewest that meet the CPU target and the p95 objective
    hpa_min: int
    hpa_max: int
    fits_hpa: bool
    utilisation: float  # at replicas_needed
    p95_ms: float  # modelled, at replicas_needed
    p95_at_hpa_max_ms: float
    cpu_request_m: int  # for replicas_needed pods


@dataclass(frozen=True)
class CapacityPlan:
    target_rps: float
    p95_objective_ms: float
    services: list[ServicePlan]
    pool_cpu_m_max: int  # application pool allocatable at its maximum node count
    pool_cpu_m_zone_loss: int  # the same after the largest zone is lost
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


def p95_ms(cal: ServiceCalibration, replicas: int, rate: float, speed: float) -> float:
    """Modelled p95: the run's no-queue p95 scaled by CPU speed, plus the p95 queueing wait."""
    service_rate = speed / cal.demand_s
    wait = wait_quantile_s(replicas * cal.workers_per_replica, rate, service_rate, 0.95)
    return math.inf if math.isinf(wait) else cal.base_p95_ms / speed + wait * 1000


def size_service(
    cal: ServiceCalibration,
    deployment: ServiceDeployment,
    rate: float,
    p95_objective_ms: float,
    speed: float = 1.0,
) -> ServicePlan:
    service_rate = speed / cal.demand_s
    workers = cal.workers_per_replica
    needed = deployment.hpa_min
    while needed < MAX_REPLICAS_SEARCHED:
        util = utilisation(needed * workers, rate, service_rate)
        if util <= deployment.cpu_target and p95_ms(cal, needed, rate, speed) <= p95_objective_ms:
            break
        needed += 1
    return ServicePlan(
        service=cal.service,
        arrival_rps=rate,
        replicas_needed=needed,
        hpa_min=deployment.hpa_min,
        hpa_max=deployment.hpa_max,
        fits_hpa=needed <= deployment.hpa_max,
        utilisation=utilisation(needed * workers, rate, service_rate),
        p95_ms=p95_ms(cal, needed, rate, speed),
        p95_at_hpa_max_ms=p95_ms(cal, deployment.hpa_max, rate, speed),
        cpu_request_m=needed * deployment.cpu_request_m,
    )


def plan(
    calibration: dict[str, ServiceCalibration],
    deployments: dict[str, ServiceDeployment],
    pool: NodePool,
    target_rps: float,
    p95_objective_ms: float,
    speed: float = 1.0,
) -> CapacityPlan:
    services = [
        size_service(cal, deployments[name], target_rps * cal.share, p95_objective_ms, speed)
        for name, cal in calibration.items()
        if name in deployments
    ]
    # Services the run did not exercise still run their minimum replicas.
    idle = [d for name, d in deployments.items() if name not in calibration]
    requested = sum(s.cpu_request_m for s in services) + sum(
        d.hpa_min * d.cpu_request_m for d in idle
    )
    max_nodes = pool.max_count
    return CapacityPlan(
        target_rps=target_rps,
        p95_objective_ms=p95_objective_ms,
        services=services,
        pool_cpu_m_max=pool.total(max_nodes).cpu_m,
        pool_cpu_m_zone_loss=pool.total(pool.nodes_after_zone_loss(max_nodes)).cpu_m,
        cpu_requested_m=requested,
    )

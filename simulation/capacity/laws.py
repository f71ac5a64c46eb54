"""Operational laws on a measured step, each with its residual (how far the two sides differ).

* Utilisation law, U = U₀ + X × D, per service: the CPU the step measured (cores) against its
  replicas' idle CPU (measured with no load) plus its request rate × the CPU per request
  calibrated on the calibration step (0 on that step itself);
* CPU balance: the machine's busy cores against what the deployment's processes and the load
  generator used (the rest: other processes on the machine);
* Little's law, closed loop: users N against X × (R + Z), with the think time Z calibrated on
  the calibration step; and per service the requests in service (the replicas' in-flight gauge,
  sampled) against X × R (R from the client: it includes nginx and the network, so ≥);
* Flow balance: requests the services counted (their `http_requests_total`) against the
  requests the load generator counted, per service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from runs.results import LoadResults
from simulation.capacity.calibration import service_of
from simulation.capacity.workload import StepExtras, Workload


@dataclass(frozen=True)
class LawCheck:
    law: str
    scope: str
    left: float
    right: float

    @property
    def residual(self) -> float:
        """(left − right) / right."""
        return (self.left - self.right) / self.right if self.right else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "residual": self.residual}


def _per_service(results: LoadResults) -> dict[str, tuple[int, float]]:
    """service → (requests, request-weighted mean response time in s)."""
    out: dict[str, tuple[int, float]] = {}
    for e in results.endpoints:
        service = service_of(e.name)
        if service is None or not e.requests:
            continue
        n, r = out.get(service, (0, 0.0))
        out[service] = (n + e.requests, r + e.mean_ms / 1000 * e.requests)
    return {s: (n, r / n) for s, (n, r) in out.items()}


def check_laws(
    step: str, results: LoadResults, extras: StepExtras, calibration: Workload
) -> list[LawCheck]:
    duration = max(results.actual_duration_s, 1e-9)
    services = _per_service(results)
    checks: list[LawCheck] = []
    for service, (requests, _) in services.items():
        used = results.resource_usage.get(service)
        demand = calibration.service_demand_s.get(service)
        if used is not None and demand:
            idle = calibration.idle_cores.get(service, 0.0) * max(used.replicas, 1)
            checks.append(
                LawCheck(
                    "utilisation U = U₀ + X·D",
                    f"{step}: {service}",
                    used.cpu_seconds / duration,
                    idle + requests / duration * demand,
                )
            )
    if extras.machine_busy_cores is not None:
        processes = sum(u.cpu_seconds for u in results.resource_usage.values()) / duration
        loadgen = (extras.loadgen_cpu_s or 0.0) / duration
        checks.append(
            LawCheck(
                "CPU balance: machine = processes + load generator",
                step,
                extras.machine_busy_cores,
                processes + loadgen,
            )
        )
    total = sum(n for n, _ in services.values())
    if total:
        x = total / duration
        r = sum(n * rt for n, rt in services.values()) / total
        users = calibration.users if step == "calibration" else float(results.users)
        checks.append(LawCheck("Little: N = X·(R + Z)", step, users, x * (r + calibration.think_s)))
    for service, in_flight in extras.in_flight.items():
        if service in services:
            n, rt = services[service]
            checks.append(
                LawCheck(
                    "Little: L = X·R (in service)",
                    f"{step}: {service}",
                    in_flight,
                    n / duration * rt,
                )
            )
    for service, counted in extras.server_requests.items():
        if service in services:
            checks.append(
                LawCheck(
                    "flow balance: served = sent",
                    f"{step}: {service}",
                    counted,
                    float(services[service][0]),
                )
            )
    return checks

"""The local platform as the request-level simulation sees it: calibrate on one measured step,
predict another (different users, different replicas), compare with what was measured.

Measured figures of a step: API throughput (requests/s), CPU per service and of the whole
machine (cores), mean and p95 response time of the API requests (locust's, client side).
Predicted: the same from `des.requests.LocalModel` configured with the step's users and
replicas, the calibration step's CPU per request, idle CPU, think time and per-route non-CPU
time (fitted so the calibration step's route means match; held-out steps get no fit). The load
other processes put on the shared machine during a step is an input of that step, as its users
are: it is measured, not predicted — as the mean number of their runnable tasks when it was
sampled (what the cores are shared among), else as the cores they used.
"""

from __future__ import annotations

from dataclasses import dataclass

from runs import quantiles
from runs.results import LoadResults
from simulation.capacity.calibration import SERVICES, modelled_service_of
from simulation.capacity.des.requests import LocalModel, LocalPrediction, LocalSystem, RouteLoad
from simulation.capacity.workload import StepExtras, Workload

# The route whose request starts an itinerary generation (the journeys' schedule request).
GENERATION_ROUTE = "POST /api/trips/[id]/schedules"
FIGURES = ("throughput", "utilisation", "mean_latency", "p95_latency")


@dataclass(frozen=True)
class StepSetup:
    users: int
    replicas: dict[str, int]
    duration_s: float


def measured_figures(results: LoadResults, extras: StepExtras) -> dict[str, float]:
    duration = max(results.actual_duration_s, 1e-9)
    api = [e for e in results.endpoints if modelled_service_of(e.name) is not None and e.requests]
    requests = sum(e.requests for e in api)
    out = {
        "throughput": requests / duration,
        "mean_latency": sum(e.mean_ms * e.requests for e in api) / max(requests, 1),
    }
    if all(e.histogram for e in api):
        merged = quantiles.merge_histograms([e.histogram or {} for e in api])
        out["p95_latency"] = float(quantiles.histogram_percentile(merged, 0.95) or 0.0)
    elif results.totals.p95_ms is not None:
        out["p95_latency"] = results.totals.p95_ms
    for service in SERVICES:
        usage = results.resource_usage.get(service)
        if usage is not None:
            out[f"cpu:{service}"] = usage.cpu_seconds / duration
    out["utilisation"] = sum(
        v for k, v in out.items() if k.startswith("cpu:")
    )  # the services' cores together
    if extras.machine_busy_cores is not None:
        out["machine"] = extras.machine_busy_cores
    return out


def _dependency(workload: Workload, name: str) -> float:
    return workload.dependency_demand_s.get(name, 0.0)


def local_system(
    workload: Workload,
    setup: StepSetup,
    cores: int,
    background_cores: float,
    offsets: dict[str, float] | None = None,
    planner: tuple[int, float] = (2, 1.0),
    background_tasks: float | None = None,
) -> LocalSystem:
    offsets = offsets or {}
    routes = tuple(
        RouteLoad(
            name=r.name,
            service=r.service,
            weight=r.share,
            cpu_s=r.demand_s,
            offset_s=offsets.get(r.name, 0.0),
            starts_generation=r.name == GENERATION_ROUTE,
        )
        for r in workload.routes
    )
    return LocalSystem(
        cores=cores,
        replicas=setup.replicas,
        routes=routes,
        users=setup.users,
        think_s=workload.think_s,
        nginx_s=_dependency(workload, "nginx"),
        postgres_s=_dependency(workload, "postgresql"),
        redis_s=_dependency(workload, "redis"),
        loadgen_s=workload.loadgen_demand_s or 0.0,
        background_cores=background_cores,
        background_tasks=background_tasks,
        planner_processes=planner[0],
        planner_limit_s=planner[1],
        generation_cpu_s=workload.generation_cpu_s,
        idle_cores=dict(workload.idle_cores),
    )


def background_cores(results: LoadResults, extras: StepExtras) -> float:
    """Busy cores of the step that no process of the deployment and not the load generator
    used: other processes on the machine (measured, an input like the users)."""
    if extras.machine_busy_cores is None:
        return 0.0
    duration = max(results.actual_duration_s, 1e-9)
    explained = sum(u.cpu_seconds for u in results.resource_usage.values())
    explained += extras.loadgen_cpu_s or 0.0
    return max(0.0, extras.machine_busy_cores - explained / duration)


def fit_offsets(system: LocalSystem, workload: Workload, duration_s: float) -> dict[str, float]:
    """Per route, the non-CPU time that makes the calibration step's simulated mean match."""
    simulated = LocalModel(system).run(duration_s)
    offsets = {}
    for route in workload.routes:
        sim = simulated.route_mean_ms.get(route.name)
        if sim is not None:
            offsets[route.name] = max(0.0, (route.mean_ms - sim) / 1000)
    return offsets


def predicted_figures(prediction: LocalPrediction) -> dict[str, float]:
    out = {
        "throughput": prediction.throughput_rps,
        "mean_latency": prediction.mean_ms,
        "p95_latency": prediction.p95_ms,
    }
    for service in SERVICES:
        if service in prediction.cpu_cores:
            out[f"cpu:{service}"] = prediction.cpu_cores[service]
    out["utilisation"] = sum(v for k, v in out.items() if k.startswith("cpu:"))
    out["machine"] = prediction.machine_busy_cores
    out["other_processes_cores"] = prediction.cpu_cores.get("background", 0.0)
    return out


def errors(predicted: dict[str, float], measured: dict[str, float]) -> dict[str, float]:
    return {
        key: (predicted[key] - value) / value
        for key, value in measured.items()
        if key in predicted and value
    }

"""The validation flow: deploy prod-sim in its own run directory, measure the steps, calibrate on
the first, predict the others with the request-level simulation, compare, predict the SLA phases
for sla-check, write the validation file — and always stop the deployment."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runs.results import LoadResults, Machine
from services.ai.settings import AISettings
from simulation.capacity.assumptions import Assumptions, LogNormal
from simulation.capacity.calibration import SERVICES
from simulation.capacity.cluster_spec import ClusterSpec
from simulation.capacity.des.requests import LocalModel
from simulation.capacity.evidence import StepComparison, Validation
from simulation.capacity.fixedcost import loaded_fixed_cores
from simulation.capacity.laws import check_laws
from simulation.capacity.loadshapes import phase_shape, phases
from simulation.capacity.localfit import (
    StepSetup,
    background_cores,
    errors,
    fit_offsets,
    local_system,
    measured_figures,
    predicted_figures,
)
from simulation.capacity.route_cpu import RouteCpu
from simulation.capacity.study import checks, simulate
from simulation.capacity.validation import (
    deployment_processes,
    keep_one_replica_each,
    make_accounts,
    measure_idle,
    run_step,
    time_replica_start,
)
from simulation.capacity.workload import StepExtras, Workload, calibrate_workload
from simulation.platforms.local import LocalPlatform
from simulation.state import load_state, run_dir

SUMMARY_FIGURES = ("throughput", "utilisation", "mean_latency", "p95_latency")
# Replicas whose start is timed (process start to ready): pod start-up as prod-sim measures it.
STARTUP_SAMPLES = ("user-2", "trip-2", "location-2", "ai-2")
STEPS_FILE = "capacity-steps.json"


@dataclass(frozen=True)
class MeasuredStep:
    name: str
    role: str
    users: int
    results: Path
    extras: StepExtras

    def load(self) -> LoadResults:
        return LoadResults.load(self.results)


def _replicas(results: LoadResults) -> dict[str, int]:
    """Replicas that actually ran (had a process) per service during the step."""
    return {s: u.replicas for s, u in results.resource_usage.items() if u.replicas}


def measure(
    directory: Path | None,
    *,
    users: int,
    held_out_users: int,
    duration_s: float,
    warmup_s: float,
    log: Callable[[str], None],
) -> tuple[list[MeasuredStep], list[float]]:
    """Deploy, run every step, stop the deployment: (steps, pod start-up seconds)."""
    where = run_dir(directory)
    if load_state(where) is not None:
        raise RuntimeError(
            f"{where} already holds a deployment; validate in a run directory of its own "
            "(--run-dir) or stop it first"
        )
    platform = LocalPlatform(directory)
    log(f"deploying prod-sim in {where} …")
    endpoints = platform.deploy("prod")
    startup: list[float] = []
    steps: list[MeasuredStep] = []
    try:
        for name in STARTUP_SAMPLES:
            startup.append(time_replica_start(where, name))
            log(f"pod start-up ({name} started again): {startup[-1]:.1f} s")
        replicas = {s: list(urls) for s, urls in endpoints.replicas.items()}

        def fresh_accounts(name: str, count: int) -> Path:
            # New travellers every step: no step inherits another's trips or cached itineraries.
            path = where / f"capacity-accounts-{name.replace(' ', '-')}.json"
            # Straight to a user replica: nginx sets X-Forwarded-For to the connection's address
            # (one address for all), a loopback caller of the replica may name its own.
            return make_accounts(endpoints.replicas["user"][0], count, path)

        log(f"warm-up: {users} users for {warmup_s:g} s (not measured)")
        run_step(where, users, warmup_s, fresh_accounts("warm-up", users), replicas, log)
        time.sleep(5)  # let the warm-up's last requests and flushes finish
        idle = measure_idle(platform, replicas, seconds=30.0)
        log("idle CPU (no load): " + ", ".join(f"{k} {v:.3f} cores" for k, v in idle.items()))
        plan = [
            # A second, lighter calibration step separates each replica's fixed cost under
            # load from its cost per request (one step cannot).
            ("calibration, lighter load", "calibration", max(1, users // 2)),
            ("calibration", "calibration", users),
            ("held-out load", "held-out", held_out_users),
        ]
        for name, role, count in plan:
            log(f"{name}: prod-sim replicas")
            accounts = fresh_accounts(name, count)
            pids = [pid for _, pid in deployment_processes(platform)]
            run = run_step(where, count, duration_s, accounts, replicas, log, pids)
            extras = replace(run.extras, idle_cores=idle)
            steps.append(MeasuredStep(name, role, count, run.results, extras))
        stopped = keep_one_replica_each(where)
        log(f"held-out replicas: one replica per service ({', '.join(stopped)} stopped)")
        accounts = fresh_accounts("held-out replicas", users)
        pids = [pid for _, pid in deployment_processes(platform)]
        run = run_step(where, users, duration_s, accounts, replicas, log, pids)
        extras = replace(run.extras, idle_cores=idle)
        steps.append(MeasuredStep("held-out replicas", "held-out", users, run.results, extras))
    finally:
        log("stopping the validation deployment")
        platform.down()
    save_steps(where / STEPS_FILE, steps, startup)
    log(f"measurements kept in {where / STEPS_FILE} (re-predict with --reuse-steps)")
    return steps, startup


def save_steps(path: Path, steps: list[MeasuredStep], startup: list[float]) -> Path:
    """The measured steps (results paths + what was measured beside them), so the predictions
    can be made again without running the load again."""
    raw = {
        "pod_startup_s": startup,
        "steps": [{**asdict(s), "results": str(s.results)} for s in steps],
    }
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return path


def load_steps(path: Path) -> tuple[list[MeasuredStep], list[float]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        steps = [
            MeasuredStep(
                name=s["name"],
                role=s["role"],
                users=int(s["users"]),
                results=Path(s["results"]),
                extras=StepExtras(**s["extras"]),
            )
            for s in raw["steps"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{path} is not a validation's measured steps: {exc}") from exc
    missing = [str(s.results) for s in steps if not s.results.exists()]
    if missing or not steps:
        raise RuntimeError(f"{path}: results missing: {', '.join(missing) or 'no steps'}")
    return steps, [float(v) for v in raw.get("pod_startup_s", [])]


def _planner() -> tuple[int, float]:
    """The ai-service's planner processes and time limit on the local platform (its defaults:
    the local platform sets neither)."""
    fields = AISettings.model_fields
    return int(fields["planner_processes"].default), float(fields["planner_time_limit_s"].default)


def main_calibration(steps: list[MeasuredStep]) -> MeasuredStep:
    """The calibration step the workload is taken from: the most loaded one."""
    calibrations = [s for s in steps if s.role == "calibration"] or steps[:1]
    return max(calibrations, key=lambda s: s.users)


def fixed_cost_extras(
    steps: list[MeasuredStep], calibration: MeasuredStep, log: Callable[[str], None]
) -> StepExtras:
    """The calibration step's extras with each process's fixed cost under load in place of its
    idle CPU, when a lighter calibration step allows the fit."""
    others = [s for s in steps if s.role == "calibration" and s is not calibration]
    fixed = None
    if others:
        fixed = loaded_fixed_cores(
            others[0].load(), calibration.load(), calibration.extras.idle_cores
        )
    if fixed is None:
        log("fixed cost under load: no lighter calibration step to fit it; idle CPU used")
        return calibration.extras
    log(
        "fixed cost under load (cores per replica; idle in brackets): "
        + ", ".join(
            f"{k} {v:.3f} ({calibration.extras.idle_cores.get(k, 0.0):.3f})"
            for k, v in fixed.items()
            if k in SERVICES or k in ("nginx", "pg-1", "pg-2", "redis-1")
        )
    )
    return replace(calibration.extras, idle_cores=fixed)


def compare(
    steps: list[MeasuredStep], log: Callable[[str], None], route_cpu: RouteCpu | None = None
) -> tuple[Workload, list[StepComparison], list[dict[str, Any]]]:
    calibration = main_calibration(steps)
    cal_results = calibration.load()
    cal_extras = fixed_cost_extras(steps, calibration, log)
    workload = calibrate_workload(cal_results, cal_extras, str(calibration.results), route_cpu)
    cores = cal_results.machine.cores
    duration = cal_results.actual_duration_s
    setup = StepSetup(calibration.users, _replicas(cal_results), duration)
    background = background_cores(cal_results, cal_extras)
    system = local_system(
        workload,
        setup,
        cores,
        background,
        planner=_planner(),
        background_tasks=calibration.extras.other_runnable,
    )
    offsets = fit_offsets(system, workload, duration)
    log(
        f"calibrated: think {workload.think_s:.2f} s/request; idle cores "
        + ", ".join(f"{k} {v:.3f}" for k, v in workload.idle_cores.items())
    )
    comparisons: list[StepComparison] = []
    laws: list[dict[str, Any]] = []
    for step in steps:
        results = step.load()
        setup = StepSetup(step.users, _replicas(results), results.actual_duration_s)
        other = background_cores(results, step.extras)
        tasks = step.extras.other_runnable
        log(
            f"{step.name}: other processes used {other:.2f} cores"
            + (
                f", {tasks:.1f} nice-0 tasks of theirs runnable on average"
                if tasks is not None
                else ""
            )
            + " (inputs of the step)"
        )
        system = local_system(workload, setup, cores, other, offsets, _planner(), tasks)
        predicted = predicted_figures(LocalModel(system).run(setup.duration_s))
        measured = measured_figures(results, step.extras)
        measured["other_processes_cores"] = other
        comparisons.append(
            StepComparison(
                name=step.name,
                role=step.role,
                users=step.users,
                replicas=setup.replicas,
                results=str(step.results),
                measured=measured,
                predicted=predicted,
                errors=errors(predicted, measured),
            )
        )
        laws += [c.as_dict() for c in check_laws(step.role, results, step.extras, workload)]
    return workload, comparisons, laws


def max_errors(comparisons: list[StepComparison]) -> dict[str, float]:
    out: dict[str, float] = {}
    for figure in SUMMARY_FIGURES:
        values = [
            c.errors[figure] for c in comparisons if c.role == "held-out" and figure in c.errors
        ]
        if values:
            out[figure] = max(values, key=abs)
    return out


def phase_predictions(
    cluster: ClusterSpec, workload: Workload, assumptions: Assumptions, startup: LogNormal
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for phase in phases():
        result = simulate(cluster, workload, assumptions, phase_shape(phase, assumptions), startup)
        out[phase.spec] = {
            "scenario": result.name,
            "description": result.description,
            "target_rps": phase.tps,
            "users": phase.users,
            "throughput_rps": result.throughput_rps,
            "offered_rps": result.offered_rps,
            "error_rate": result.error_rate,
            "general_p95_ms": result.general_p95_ms,
            "ai_p95_ms": result.ai_p95_ms,
            "max_replicas": result.max_replicas,
            "max_nodes": result.max_nodes,
            "breaks": result.breaks,
            "checks": [c.__dict__ for c in checks(result, phase)],
        }
    return out


def startup_distribution(samples: list[float], default: LogNormal) -> LogNormal:
    if not samples:
        return default
    ordered = sorted(samples)
    median = ordered[len(ordered) // 2]
    return LogNormal(median=median, p90=max(ordered[-1], median))


def _other_cores(step: MeasuredStep) -> float:
    return background_cores(step.load(), step.extras)


def build_validation(
    steps: list[MeasuredStep],
    startup: list[float],
    cluster: ClusterSpec,
    assumptions: Assumptions,
    git: tuple[str | None, bool | None],
    log: Callable[[str], None],
    route_cpu: RouteCpu | None = None,
) -> Validation:
    workload, comparisons, laws = compare(steps, log, route_cpu)
    distribution = startup_distribution(startup, assumptions.pod_startup_s)
    return Validation(
        created_at=datetime.now(UTC),
        machine=Machine.current(),
        git_commit=git[0],
        git_dirty=git[1],
        steps=comparisons,
        max_errors=max_errors(comparisons),
        laws=laws,
        pod_startup_s=startup,
        workload=workload.to_dict(),
        phases=phase_predictions(cluster, workload, assumptions, distribution),
        notes=[
            f"machine load from other processes during calibration: "
            f"{_other_cores(main_calibration(steps)):.2f} cores",
            f"run by pid {os.getpid()}",
        ],
    )

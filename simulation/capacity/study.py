"""Every scenario the capacity model plays for one calibrated workload, with its SLA verdicts,
the steady-state cross-check, and the cost per phase (what `python -m simulation.capacity`
prints and reports, and what the validation stores for `sla-check`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulation.capacity.assumptions import Assumptions, LogNormal
from simulation.capacity.cluster_spec import ClusterSpec
from simulation.capacity.cost import CostEstimate, Prices, monthly_cost
from simulation.capacity.des.engine import SimOptions, Simulation
from simulation.capacity.des.results import SimulationResult
from simulation.capacity.loadshapes import (
    LoadShape,
    Phase,
    daily_shape,
    phase_shape,
    phases,
    spike_shape,
    zone_loss_shape,
)
from simulation.capacity.model import CapacityPlan, plan
from simulation.capacity.workload import Workload

TICK_S = 5.0
# A day's curve changes slowly: one tick per metrics window (15 s) keeps a simulated day fast.
DAY_TICKS_PER_WINDOW = 1


@dataclass(frozen=True)
class Check:
    objective: str
    target: str
    predicted: str
    passed: bool


@dataclass
class ScenarioOutcome:
    result: SimulationResult
    phase: Phase
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class Agreement:
    """The analytic steady state against the simulation's judged window, per service."""

    service: str
    analytic_replicas: int
    simulated_replicas: float
    analytic_utilisation: float
    simulated_utilisation: float


@dataclass
class Study:
    scenarios: list[ScenarioOutcome] = field(default_factory=list)
    plans: dict[str, CapacityPlan] = field(default_factory=dict)
    agreement: dict[str, list[Agreement]] = field(default_factory=dict)
    costs: dict[str, CostEstimate] = field(default_factory=dict)
    halved: dict[str, CostEstimate] = field(default_factory=dict)
    day_wall_s: list[float] = field(default_factory=list)

    def phase_verdicts(self) -> dict[str, dict[str, Any]]:
        """Per SLA spec: the phase scenario's predictions (what sla-check's judge reads)."""
        out: dict[str, dict[str, Any]] = {}
        for outcome in self.scenarios:
            if outcome.result.name.startswith(f"{outcome.phase.spec}:"):
                r = outcome.result
                out[outcome.phase.spec] = {
                    "scenario": r.name,
                    "description": r.description,
                    "target_rps": outcome.phase.tps,
                    "users": outcome.phase.users,
                    "throughput_rps": r.throughput_rps,
                    "offered_rps": r.offered_rps,
                    "error_rate": r.error_rate,
                    "general_p95_ms": r.general_p95_ms,
                    "ai_p95_ms": r.ai_p95_ms,
                    "max_replicas": r.max_replicas,
                    "max_nodes": r.max_nodes,
                    "breaks": r.breaks,
                    "checks": [c.__dict__ for c in outcome.checks],
                }
        return out


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def checks(result: SimulationResult, phase: Phase) -> list[Check]:
    out = [
        Check(
            "throughput",
            f"≥ {result.offered_rps:,.0f} req/s offered",
            f"{result.throughput_rps:,.0f} req/s served",
            result.throughput_rps >= 0.999 * result.offered_rps,
        )
    ]
    if phase.general_p95_ms is not None:
        value = result.general_p95_ms
        out.append(
            Check(
                "general API p95",
                f"< {phase.general_p95_ms:g} ms",
                _ms(value),
                value is not None and value < phase.general_p95_ms,
            )
        )
    if phase.ai_p95_ms is not None and result.ai_p95_ms is not None:
        out.append(
            Check(
                "AI generation p95",
                f"< {phase.ai_p95_ms:g} ms",
                _ms(result.ai_p95_ms),
                result.ai_p95_ms < phase.ai_p95_ms,
            )
        )
    if phase.error_rate is not None:
        out.append(
            Check(
                "error rate",
                f"< {phase.error_rate:.1%}",
                f"{result.error_rate:.3%}",
                result.error_rate < phase.error_rate,
            )
        )
    return out


def agreement(result: SimulationResult, capacity: CapacityPlan) -> list[Agreement]:
    judged = result.series["t"] >= result.judged_from_s
    return [
        Agreement(
            service=p.service,
            analytic_replicas=p.settled_replicas,
            simulated_replicas=float(result.series[f"serving:{p.service}"][judged].mean()),
            analytic_utilisation=p.cpu_utilisation,
            simulated_utilisation=float(result.series[f"util:{p.service}"][judged].mean()),
        )
        for p in capacity.services
    ]


def simulate(
    cluster: ClusterSpec,
    workload: Workload,
    assumptions: Assumptions,
    shape: LoadShape,
    startup: LogNormal | None = None,
    speed: float | None = None,
) -> SimulationResult:
    window = assumptions.kubernetes.metrics_resolution_s
    options = SimOptions(
        tick_s=window / DAY_TICKS_PER_WINDOW if shape.duration_s >= 86400 else TICK_S,
        speed=speed,
        pod_startup=startup,
    )
    began = time.perf_counter()
    result = Simulation(cluster, workload, assumptions, shape, options).run()
    result.wall_s = time.perf_counter() - began
    return result


def run_study(
    cluster: ClusterSpec,
    workload: Workload,
    assumptions: Assumptions,
    prices: Prices,
    *,
    startup: LogNormal | None = None,
    speed: float | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Study:
    study = Study()
    ratio = speed or assumptions.cpu_speed_ratio
    all_phases = phases()
    first = all_phases[0]
    shapes = [phase_shape(p, assumptions) for p in all_phases]
    shapes += [spike_shape(first, assumptions), zone_loss_shape(first, assumptions)]
    for shape in shapes:
        progress(shape.name)
        result = simulate(cluster, workload, assumptions, shape, startup, speed)
        study.scenarios.append(ScenarioOutcome(result, shape.phase, checks(result, shape.phase)))
        if shape.zone_loss_at_s is None and shape.name.startswith(f"{shape.phase.spec}:"):
            capacity = plan(
                workload, cluster, shape.phase.tps, shape.phase.general_p95_ms or 200.0, ratio
            )
            study.plans[shape.phase.spec] = capacity
            study.agreement[shape.phase.spec] = agreement(result, capacity)
    halved = workload.scaled(0.5)
    for phase in all_phases:
        progress(f"daily curve, {phase.spec}")
        day = simulate(
            cluster, workload, assumptions, daily_shape(phase, assumptions), startup, speed
        )
        study.day_wall_s.append(day.wall_s)
        study.scenarios.append(ScenarioOutcome(day, phase, checks(day, phase)))
        study.costs[phase.spec] = monthly_cost(day, cluster, prices, phase.spec)
        lean = simulate(
            cluster, halved, assumptions, daily_shape(phase, assumptions), startup, speed
        )
        study.halved[phase.spec] = monthly_cost(lean, cluster, prices, phase.spec)
    return study

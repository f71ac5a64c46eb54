"""The scenarios the simulation plays: offered load over time and the events in it.

SPEC.md › Targets (SLA and phases) gives each phase's throughput and concurrent users; the
phases themselves are read from the SLA specs (`runs/specs/prod|phase2|phase3.yaml`: the
`throughput_rps` objective and `concurrent_users`), never restated. A phase's users are open
arrivals at its throughput: N users each sending one request every N/TPS seconds on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runs.spec import SlaSpec, load_spec
from simulation.capacity.assumptions import Assumptions

PHASE_SPECS = ("prod", "phase2", "phase3")


@dataclass(frozen=True)
class Phase:
    spec: str  # the SLA spec's profile: prod, phase2, phase3
    title: str
    tps: float
    users: int | None
    general_p95_ms: float | None
    ai_p95_ms: float | None
    error_rate: float | None


def _threshold(spec: SlaSpec, metric: str) -> float | None:
    for objective in spec.objectives:
        if objective.metric == metric and objective.window_s is None and objective.gating:
            return objective.threshold
    return None


def phase_of(name: str) -> Phase:
    spec = load_spec(name)
    tps = _threshold(spec, "throughput_rps")
    if tps is None:
        raise ValueError(f"SLA spec {name!r} has no throughput objective to simulate")
    return Phase(
        spec=spec.profile,
        title=spec.title,
        tps=tps,
        users=spec.concurrent_users.value if spec.concurrent_users else None,
        general_p95_ms=_threshold(spec, "p95_ms"),
        ai_p95_ms=_threshold(spec, "ai_generation_p95_ms"),
        error_rate=_threshold(spec, "error_rate"),
    )


def phases() -> list[Phase]:
    return [phase_of(name) for name in PHASE_SPECS]


@dataclass(frozen=True)
class LoadShape:
    name: str
    duration_s: float
    times_s: tuple[float, ...]  # breakpoints of the offered rate, linearly interpolated
    rps: tuple[float, ...]
    judged_from_s: float  # the verdicts judge [judged_from_s, duration_s]
    phase: Phase
    zone_loss_at_s: float | None = None
    zone: str | None = None
    description: str = ""

    def rate(self, t: float) -> float:
        return float(np.interp(t, self.times_s, self.rps))

    @property
    def peak_rps(self) -> float:
        return max(self.rps)


def phase_shape(phase: Phase, a: Assumptions) -> LoadShape:
    ramp, hold = a.load.ramp_s, a.load.hold_s
    users = (
        f" ({phase.users:,} users, one request per {phase.users / phase.tps:.0f} s each)"
        if phase.users
        else ""
    )
    return LoadShape(
        name=f"{phase.spec}: {phase.tps:,.0f} req/s",
        duration_s=ramp + hold,
        times_s=(0.0, ramp, ramp + hold),
        rps=(0.1 * phase.tps, phase.tps, phase.tps),
        judged_from_s=ramp + hold / 2,
        phase=phase,
        description=f"{phase.title}: ramp to {phase.tps:,.0f} req/s over {ramp:.0f} s, "
        f"held {hold:.0f} s" + users,
    )


def daily_shape(phase: Phase, a: Assumptions) -> LoadShape:
    curve = a.load.daily_curve
    times = tuple(3600.0 * h + 1800.0 for h in range(24))
    times = (0.0, *times, 86400.0)
    values = (curve[0], *curve, curve[-1])
    return LoadShape(
        name=f"daily curve, peak {phase.tps:,.0f} req/s ({phase.spec})",
        duration_s=86400.0,
        times_s=times,
        rps=tuple(v * phase.tps for v in values),
        judged_from_s=0.0,
        phase=phase,
        description=f"24 h, hourly fractions of a {phase.tps:,.0f} req/s peak "
        f"(mean {sum(curve) / 24:.0%} of the peak)",
    )


def spike_shape(phase: Phase, a: Assumptions) -> LoadShape:
    s = a.load.spike
    base = s.base_fraction * phase.tps
    quiet = 1200.0  # long enough for the HPA to sit at its minimum before the spike
    times = (0.0, quiet, quiet + s.rise_s, quiet + s.rise_s + s.hold_s)
    end = times[-1] + 600.0
    return LoadShape(
        name=f"{s.factor:g}× spike from {base:,.0f} req/s",
        duration_s=end,
        times_s=(*times, times[-1] + 1.0, end),
        rps=(base, base, base * s.factor, base * s.factor, base, base),
        judged_from_s=quiet,
        phase=phase,
        description=f"{base:,.0f} req/s, then {base * s.factor:,.0f} req/s within "
        f"{s.rise_s:g} s, held {s.hold_s:g} s",
    )


def zone_loss_shape(phase: Phase, a: Assumptions) -> LoadShape:
    z = a.load.zone_loss
    at = a.load.ramp_s + z.warmup_s
    end = at + z.after_s
    return LoadShape(
        name=f"{z.zone} lost at {phase.tps:,.0f} req/s",
        duration_s=end,
        times_s=(0.0, a.load.ramp_s, end),
        rps=(0.1 * phase.tps, phase.tps, phase.tps),
        judged_from_s=at,
        phase=phase,
        zone_loss_at_s=at,
        zone=z.zone,
        description=f"{phase.title} load; zone {z.zone} lost at t={at:.0f} s, watched "
        f"{z.after_s:.0f} s more",
    )

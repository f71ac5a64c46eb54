"""The HorizontalPodAutoscaler as Kubernetes computes it (autoscaling/v2, kube-controller-manager).

Two steps every sync period (`--horizontal-pod-autoscaler-sync-period`, 15 s):

1. **Replica calculator** (`replicas_for_resource`, after Kubernetes' `GetResourceReplicas`):
   usage ratio = Σ usage / Σ requests of the pods with a usable sample ÷ target utilisation.
   Pending pods are set aside; a CPU sample is ignored while the pod is unready within its
   initialisation period (`--horizontal-pod-autoscaler-cpu-initialization-period`, 5 min) or
   became ready less than one metric window ago, and after that while it is unready and never
   was ready within the initial readiness delay (30 s). Without set-aside or missing pods:
   no change when |1 − ratio| ≤ tolerance (0.1), else ceil(ratio × ready pods). Otherwise
   missing pods count as 100 % of their request on a scale-down and 0 % on a scale-up, unready
   pods as 0 % on a scale-up, and the recomputed ratio must still point the same way and leave
   the tolerance band. Several metrics: the largest proposal wins.
2. **Normalisation with behaviours** (`HorizontalPodAutoscaler.step`): the stabilisation windows
   (scale-up: the lowest recommendation of its window, default 0 s; scale-down: the highest of
   its window, default 300 s), then the rate policies over their periods (defaults: up by
   max(4 pods, 100 %) per 15 s, down by 100 % per 15 s), then min/max replicas.

The defaults are Kubernetes' own (`pkg/apis/autoscaling/v2/defaults.go`); an HPA without
`behavior` (the chart renders none) gets them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

TOLERANCE = 0.1
SYNC_PERIOD_S = 15.0
CPU_INITIALIZATION_PERIOD_S = 300.0
INITIAL_READINESS_DELAY_S = 30.0
DOWNSCALE_STABILIZATION_S = 300.0


@dataclass(frozen=True)
class ScalingPolicy:
    kind: Literal["Pods", "Percent"]
    value: int
    period_s: float


@dataclass(frozen=True)
class ScalingRules:
    stabilization_s: float
    select: Literal["Max", "Min", "Disabled"]
    policies: tuple[ScalingPolicy, ...]


DEFAULT_SCALE_UP = ScalingRules(
    0.0, "Max", (ScalingPolicy("Pods", 4, 15.0), ScalingPolicy("Percent", 100, 15.0))
)
DEFAULT_SCALE_DOWN = ScalingRules(
    DOWNSCALE_STABILIZATION_S, "Max", (ScalingPolicy("Percent", 100, 15.0),)
)


@dataclass(frozen=True)
class MetricTarget:
    resource: Literal["cpu", "memory"]
    utilisation: float  # fraction of the request, e.g. 0.7


@dataclass(frozen=True)
class HpaSpec:
    min_replicas: int
    max_replicas: int
    metrics: tuple[MetricTarget, ...]
    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN
    tolerance: float = TOLERANCE
    sync_period_s: float = SYNC_PERIOD_S
    cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S
    initial_readiness_delay_s: float = INITIAL_READINESS_DELAY_S


@dataclass(frozen=True)
class PodSample:
    """What the controller sees of one pod at a sync."""

    name: str
    request: dict[str, float]  # resource → request (millicores, MiB)
    usage: dict[str, float] | None  # resource → metrics-server average; None = no metrics yet
    pending: bool = False
    ready: bool = True
    started_at: float = -math.inf
    ready_changed_at: float = -math.inf  # last Ready condition transition
    metric_at: float = 0.0  # timestamp of the sample (end of its window)
    metric_window_s: float = 15.0


def desired_replicas(current: int, current_value: float, target_value: float, tol: float) -> int:
    """The documented formula: ceil(current × current/target), unless within the tolerance."""
    ratio = current_value / target_value
    if abs(1.0 - ratio) <= tol:
        return current
    return math.ceil(current * ratio)


def _ignored(pod: PodSample, resource: str, now: float, spec: HpaSpec) -> bool:
    """Kubernetes' groupPods: is this pod's sample set aside (CPU only)?"""
    if resource != "cpu":
        return False
    if pod.started_at + spec.cpu_initialization_period_s > now:
        # Unready, or one metric window has not passed since the last Ready transition.
        return (not pod.ready) or pod.metric_at < pod.ready_changed_at + pod.metric_window_s
    # Unready and never became ready within the initial readiness delay.
    return (not pod.ready) and pod.started_at + spec.initial_readiness_delay_s > (
        pod.ready_changed_at
    )


def _ratio(
    values: dict[str, float], requests: dict[str, float], target: float
) -> tuple[float, float]:
    """(usage ratio to the target, utilisation) over the pods in `values`."""
    used = sum(values.values())
    requested = sum(requests[name] for name in values)
    utilisation = used / requested if requested else 0.0
    return utilisation / target, utilisation


def replicas_for_resource(
    pods: Sequence[PodSample], target: MetricTarget, current: int, now: float, spec: HpaSpec
) -> int | None:
    """Kubernetes' GetResourceReplicas for one resource metric; None when no pod has a sample."""
    values: dict[str, float] = {}
    missing: list[str] = []
    unready: list[str] = []
    requests = {p.name: p.request[target.resource] for p in pods}
    for pod in pods:
        if pod.pending:
            continue
        if pod.usage is None:
            missing.append(pod.name)
        elif _ignored(pod, target.resource, now, spec):
            unready.append(pod.name)
        else:
            values[pod.name] = pod.usage[target.resource]
    if not values:
        return None
    ratio, _ = _ratio(values, requests, target.utilisation)
    rebalance_unready = bool(unready) and ratio > 1.0
    if not rebalance_unready and not missing:
        if abs(1.0 - ratio) <= spec.tolerance:
            return current
        return math.ceil(ratio * len(values))
    if missing:
        for name in missing:
            values[name] = requests[name] if ratio < 1.0 else 0.0
    if rebalance_unready:
        for name in unready:
            values[name] = 0.0
    new_ratio, _ = _ratio(values, requests, target.utilisation)
    if (
        abs(1.0 - new_ratio) <= spec.tolerance
        or (ratio < 1.0 < new_ratio)
        or (ratio > 1.0 > new_ratio)
    ):
        return current
    proposal = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current
    return proposal


def _change_within(events: list[tuple[float, int]], period_s: float, now: float) -> int:
    return sum(change for at, change in events if at > now - period_s)


@dataclass
class HorizontalPodAutoscaler:
    """One HPA's state between syncs: recommendations and scale events (as the controller
    keeps them in memory)."""

    spec: HpaSpec
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_ups: list[tuple[float, int]] = field(default_factory=list)
    scale_downs: list[tuple[float, int]] = field(default_factory=list)
    limited_by_max: bool = False  # the last sync wanted more than maxReplicas

    def metric_proposal(self, current: int, pods: Sequence[PodSample], now: float) -> int:
        proposals = [
            p
            for target in self.spec.metrics
            if (p := replicas_for_resource(pods, target, current, now, self.spec)) is not None
        ]
        return max(proposals) if proposals else current

    def step(self, now: float, current: int, pods: Sequence[PodSample]) -> int:
        """The replica count this sync sets (after stabilisation, rate limits, min/max)."""
        spec = self.spec
        if current > spec.max_replicas:
            proposal = spec.max_replicas
        elif current < spec.min_replicas:
            proposal = spec.min_replicas
        else:
            proposal = self.metric_proposal(current, pods, now)
        self.limited_by_max = proposal > spec.max_replicas
        stabilised = self._stabilise(now, current, proposal)
        desired = self._rate_limited(now, current, stabilised)
        desired = max(spec.min_replicas, min(spec.max_replicas, desired))
        if desired > current:
            self.scale_ups.append((now, desired - current))
        elif desired < current:
            self.scale_downs.append((now, current - desired))
        return desired

    def _stabilise(self, now: float, current: int, proposal: int) -> int:
        up_cut = now - self.spec.scale_up.stabilization_s
        down_cut = now - self.spec.scale_down.stabilization_s
        up, down = proposal, proposal
        for at, value in self.recommendations:
            if at > up_cut:
                up = min(up, value)
            if at > down_cut:
                down = max(down, value)
        keep = max(self.spec.scale_up.stabilization_s, self.spec.scale_down.stabilization_s)
        self.recommendations = [(a, v) for a, v in self.recommendations if a > now - keep]
        self.recommendations.append((now, proposal))
        return min(max(current, up), down)

    def _rate_limited(self, now: float, current: int, desired: int) -> int:
        if desired > current:
            limit = self._limit(now, current, self.spec.scale_up, up=True)
            return min(desired, max(limit, current))
        if desired < current:
            limit = self._limit(now, current, self.spec.scale_down, up=False)
            return max(desired, min(limit, current))
        return desired

    def _limit(self, now: float, current: int, rules: ScalingRules, *, up: bool) -> int:
        if rules.select == "Disabled":
            return current
        proposals = []
        for policy in rules.policies:
            added = _change_within(self.scale_ups, policy.period_s, now)
            removed = _change_within(self.scale_downs, policy.period_s, now)
            start = current - added + removed
            if policy.kind == "Pods":
                proposals.append(start + policy.value if up else start - policy.value)
            elif up:
                proposals.append(math.ceil(start * (1 + policy.value / 100)))
            else:
                proposals.append(int(start * (1 - policy.value / 100)))
        # "Max" allows the largest change: the highest limit up, the lowest limit down.
        largest_change = rules.select == "Max"
        if up:
            return max(proposals) if largest_change else min(proposals)
        return min(proposals) if largest_change else max(proposals)

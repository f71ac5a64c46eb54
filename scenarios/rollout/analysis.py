"""What a rollout step is judged by, and the judging: thresholds taken from the SLA spec (the
same objectives the judge and the alert rules read), measurements per track from Prometheus
counters (this module only does the arithmetic; `measure` queries).

    error rate  ← objective `alert-error-rate`   (SPEC.md: rollback when the error rate > 1%)
    p95         ← objective `general-api-p95`    (the general API line, 200 ms in prod)
    AI p95      ← objective `alert-ai-response`  (AI response > 5 s)

A step is conclusive once the new version has served `min_requests` user requests: fewer cannot
show an error rate at the line at all (one failure in fewer than 1/limit requests is already
above it). A breach is called as soon as it is certain — more failures than the limit allows
for `min_requests` — or once the step is conclusive and a measure is over its line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runs.spec import SlaSpec

ERROR_RATE_OBJECTIVE = "alert-error-rate"
LATENCY_OBJECTIVE = "general-api-p95"
AI_OBJECTIVE = "alert-ai-response"
MIN_QUANTILE_SAMPLES = 20  # a p95 of fewer samples is its largest sample or two


class ThresholdError(ValueError):
    """The SLA spec lacks an objective the rollout analysis is taken from."""


@dataclass(frozen=True)
class Line:
    """A measure's line: the value is fine while `value <= limit` (`strict`: `value < limit`)."""

    measure: str  # error_rate | p95_ms | ai_p95_ms
    limit: float
    strict: bool
    objective: str
    source: str

    def breached(self, value: float) -> bool:
        return value >= self.limit if self.strict else value > self.limit

    def describe(self) -> str:
        op = "<" if self.strict else "≤"
        shown = f"{self.limit:.2%}" if self.measure == "error_rate" else f"{self.limit:g} ms"
        return f"{self.measure} {op} {shown}"


@dataclass(frozen=True)
class Thresholds:
    error_rate: Line
    p95_ms: Line
    ai_p95_ms: Line

    @property
    def lines(self) -> tuple[Line, Line, Line]:
        return (self.error_rate, self.p95_ms, self.ai_p95_ms)

    @property
    def min_requests(self) -> int:
        return max(MIN_QUANTILE_SAMPLES, math.ceil(1.0 / self.error_rate.limit))


def _line(spec: SlaSpec, measure: str, objective_id: str, metric: str) -> Line:
    try:
        objective = spec.objective(objective_id)
    except (KeyError, ValueError) as exc:
        raise ThresholdError(
            f"runs/specs/{spec.profile}.yaml has no objective {objective_id!r}: "
            "the rollout analysis takes its line from there"
        ) from exc
    if objective.metric != metric or objective.comparator not in ("<", "<="):
        raise ThresholdError(
            f"objective {objective_id!r} must be `{metric} <`/`<=` to bound a rollout "
            f"(it is {objective.metric} {objective.comparator})"
        )
    return Line(
        measure, objective.threshold, objective.comparator == "<", objective_id, objective.source
    )


def thresholds_from_spec(spec: SlaSpec) -> Thresholds:
    return Thresholds(
        error_rate=_line(spec, "error_rate", ERROR_RATE_OBJECTIVE, "error_rate"),
        p95_ms=_line(spec, "p95_ms", LATENCY_OBJECTIVE, "p95_ms"),
        ai_p95_ms=_line(spec, "ai_p95_ms", AI_OBJECTIVE, "ai_generation_p95_ms"),
    )


# ---------------------------------------------------------------------------- counters


@dataclass(frozen=True)
class Counters:
    """Cumulative counters of one track (summed over its replicas) at one moment."""

    requests: float = 0.0
    errors: float = 0.0
    latency: Mapping[float, float] = field(default_factory=dict)  # le (s) → cumulative count
    ai: Mapping[float, float] = field(default_factory=dict)

    def minus(self, earlier: Counters) -> Counters:
        """The increase since `earlier` (a counter that went down was reset: count from 0)."""

        def delta(now: float, then: float) -> float:
            return now - then if now >= then else now

        def buckets(now: Mapping[float, float], then: Mapping[float, float]) -> dict[float, float]:
            return {le: delta(v, then.get(le, 0.0)) for le, v in now.items()}

        return Counters(
            delta(self.requests, earlier.requests),
            delta(self.errors, earlier.errors),
            buckets(self.latency, earlier.latency),
            buckets(self.ai, earlier.ai),
        )


def bucket_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus's `histogram_quantile` over cumulative buckets (le → count), in seconds."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return lower_le  # above the highest finite bucket: its bound, as Prometheus does
            if count == lower_count:
                return le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    return ordered[-1][0]


@dataclass(frozen=True)
class Measured:
    """One track's numbers over a step."""

    requests: float
    errors: float
    p95_ms: float | None
    ai_p95_ms: float | None
    ai_samples: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @classmethod
    def of(cls, delta: Counters) -> Measured:
        p95 = (
            bucket_quantile(0.95, delta.latency) if delta.requests >= MIN_QUANTILE_SAMPLES else None
        )
        ai_samples = max(delta.ai.values(), default=0.0)
        ai = bucket_quantile(0.95, delta.ai) if ai_samples >= MIN_QUANTILE_SAMPLES else None
        return cls(
            delta.requests,
            delta.errors,
            None if p95 is None else p95 * 1000,
            None if ai is None else ai * 1000,
            ai_samples,
        )


@dataclass(frozen=True)
class Judgement:
    """`breach` names what crossed its line (empty: none); `conclusive` says the step saw
    enough of the new version to pass it."""

    conclusive: bool
    breaches: tuple[str, ...]

    @property
    def breach(self) -> bool:
        return bool(self.breaches)


def judge(measured: Measured, thresholds: Thresholds) -> Judgement:
    need = thresholds.min_requests
    conclusive = measured.requests >= need
    breaches: list[str] = []
    limit = thresholds.error_rate
    certain = measured.errors > limit.limit * max(need, measured.requests)
    if measured.errors and (certain or (conclusive and limit.breached(measured.error_rate))):
        breaches.append(
            f"error rate {measured.error_rate:.2%} ({measured.errors:.0f} of "
            f"{measured.requests:.0f}) breaks {limit.describe()} ({limit.objective})"
        )
    for line, value in (
        (thresholds.p95_ms, measured.p95_ms),
        (thresholds.ai_p95_ms, measured.ai_p95_ms),
    ):
        if conclusive and value is not None and line.breached(value):
            breaches.append(
                f"{line.measure} {value:.0f} ms breaks {line.describe()} ({line.objective})"
            )
    return Judgement(conclusive, tuple(breaches))


def summed(per_replica: Mapping[str, Counters], replicas: Sequence[str]) -> Counters:
    """The counters of `replicas` added up."""
    total = Counters()
    for name in replicas:
        c = per_replica.get(name)
        if c is None:
            continue
        latency = dict(total.latency)
        for le, v in c.latency.items():
            latency[le] = latency.get(le, 0.0) + v
        ai = dict(total.ai)
        for le, v in c.ai.items():
            ai[le] = ai.get(le, 0.0) + v
        total = Counters(total.requests + c.requests, total.errors + c.errors, latency, ai)
    return total

"""The rollout's lines come from the SLA spec, and its judgement of a step's counters."""

from __future__ import annotations

import math

import pytest

from runs.spec import load_spec
from scenarios.rollout.analysis import (
    Counters,
    Measured,
    ThresholdError,
    bucket_quantile,
    judge,
    summed,
    thresholds_from_spec,
)

PROD = thresholds_from_spec(load_spec("prod"))


def test_lines_are_the_prod_specs_objectives() -> None:
    spec = load_spec("prod")
    assert PROD.error_rate.limit == spec.objective("alert-error-rate").threshold == 0.01
    assert not PROD.error_rate.strict  # "error rate > 1%" rolls back; 1% itself is fine
    assert PROD.p95_ms.limit == spec.objective("general-api-p95").threshold == 200
    assert PROD.ai_p95_ms.limit == spec.objective("alert-ai-response").threshold == 5000
    # Fewer than 1/limit requests cannot show a rate at the line.
    assert PROD.min_requests == 100


def test_a_spec_without_the_objectives_is_refused_by_name() -> None:
    with pytest.raises(ThresholdError, match="alert-error-rate"):
        thresholds_from_spec(load_spec("dev"))


def test_bucket_quantile_matches_prometheus_interpolation() -> None:
    # 100 observations: 50 ≤ 10 ms, 90 ≤ 100 ms, 100 ≤ 1 s.
    buckets = {0.01: 50.0, 0.1: 90.0, 1.0: 100.0, math.inf: 100.0}
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.01)
    assert bucket_quantile(0.95, buckets) == pytest.approx(0.1 + 0.9 * 0.5)
    assert bucket_quantile(0.95, {math.inf: 0.0}) is None
    # Everything above the last finite bucket: that bucket's bound.
    assert bucket_quantile(0.95, {1.0: 0.0, math.inf: 10.0}) == 1.0


def test_counters_difference_and_reset() -> None:
    earlier = Counters(100, 1, {0.1: 90, math.inf: 100})
    later = Counters(150, 3, {0.1: 130, math.inf: 150})
    delta = later.minus(earlier)
    assert (delta.requests, delta.errors, delta.latency[0.1]) == (50, 2, 40)
    restarted = Counters(7, 0, {math.inf: 7}).minus(earlier)  # the replica restarted
    assert restarted.requests == 7
    both = summed({"a": delta, "b": restarted}, ["a", "b"])
    assert both.requests == 57 and both.latency[math.inf] == 57


def _measured(requests: float, errors: float, p95_ms: float | None = 10.0) -> Measured:
    return Measured(requests, errors, p95_ms, None, 0)


def test_healthy_step_is_conclusive_only_after_min_requests() -> None:
    assert not judge(_measured(99, 0), PROD).conclusive
    verdict = judge(_measured(100, 0), PROD)
    assert verdict.conclusive and not verdict.breach
    # Exactly at the line (1 in 100) is within it.
    assert not judge(_measured(100, 1), PROD).breach


def test_breach_is_called_as_soon_as_it_is_certain() -> None:
    # Two failures can never come back under 1% of the 100 requests a step needs.
    early = judge(_measured(40, 2), PROD)
    assert early.breach and not early.conclusive
    assert "alert-error-rate" in early.breaches[0]
    assert not judge(_measured(40, 1), PROD).breach  # one may still be within the line
    assert judge(_measured(300, 4), PROD).breach  # 1.33% once conclusive


def test_latency_breach_needs_a_conclusive_step() -> None:
    assert not judge(_measured(50, 0, p95_ms=900), PROD).breach
    slow = judge(_measured(200, 0, p95_ms=250), PROD)
    assert slow.breach and "general-api-p95" in slow.breaches[0]
    ai = Measured(200, 0, 20, 6000, 30)
    assert judge(ai, PROD).breaches == ("ai_p95_ms 6000 ms breaks ai_p95_ms ≤ 5000 ms "
                                        "(alert-ai-response)",)  # fmt: skip


def test_measured_needs_samples_for_a_quantile() -> None:
    few = Measured.of(Counters(10, 0, {0.1: 10, math.inf: 10}))
    assert few.p95_ms is None
    many = Measured.of(Counters(100, 2, {0.01: 100, math.inf: 100}, {1.0: 25, math.inf: 25}))
    assert many.p95_ms == pytest.approx(9.5) and many.ai_p95_ms == pytest.approx(950)
    assert many.error_rate == 0.02

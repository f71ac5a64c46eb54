"""The judge: PASS, FAIL and NO-DATA for every metric, windows, chaos, gate policy and exit code."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from runs.results import (
    ChaosEvent,
    CustomMetric,
    LoadResults,
    ProbeResult,
    Sample,
    TimePoint,
)
from runs.spec import Objective, SlaSpec, available_specs, load_spec
from scenarios.sla.judge import (
    NoDataPolicy,
    Outcome,
    Verdict,
    exit_code,
    gate_passed,
    judge,
    print_verdicts,
    profile_mismatch,
    tally,
)
from tests.scenarios.helpers import T0, MakeResults, endpoint


def objective(metric: str, comparator: str, threshold: float, **fields: Any) -> Objective:
    return Objective.model_validate(
        {
            "id": fields.pop("id", metric.replace("_", "-")),
            "description": "test objective",
            "source": "SPEC.md › test",
            "metric": metric,
            "comparator": comparator,
            "threshold": threshold,
            **fields,
        }
    )


def one(results: LoadResults, obj: Objective) -> Verdict:
    (verdict,) = judge(
        results, SlaSpec(profile="prod", deploys="prod", title="t", objectives=[obj])
    )
    assert verdict.measured_text  # never silently missing
    return verdict


def probes(outcomes: list[bool], start_s: float = 0.0) -> list[ProbeResult]:
    return [
        ProbeResult(
            timestamp=T0 + timedelta(seconds=start_s + i), target="health", ok=ok, latency_ms=2.0
        )
        for i, ok in enumerate(outcomes)
    ]


def samples(values: list[float], failed: int = 0, spacing_s: float = 1.0) -> CustomMetric:
    rows = [
        Sample(timestamp=T0 + timedelta(seconds=i * spacing_s), value=v)
        for i, v in enumerate(values)
    ]
    rows += [
        Sample(timestamp=T0 + timedelta(seconds=len(values) + i), value=30_000.0, ok=False)
        for i in range(failed)
    ]
    return CustomMetric(name="ai_generation", samples=rows)


# -- latency ------------------------------------------------------------------------------------


def test_p95_over_all_endpoints_uses_final_histograms(make_results: MakeResults) -> None:
    fast = endpoint("/api/locations/places", 900, histogram={10: 850, 20: 50})
    slow = endpoint("/api/trips", 100, histogram={100: 60, 300: 40})
    results = make_results([fast, slow])
    verdict = one(results, objective("p95_ms", "<", 100))
    # 1,000 requests: 900 at ≤ 20 ms, 60 at 100 ms, 40 at 300 ms → p95 is the 100 ms bucket.
    assert verdict.measured == 100
    assert verdict.outcome is Outcome.FAIL
    assert "from locust's final histograms" in verdict.reason
    assert "slowest:" in verdict.reason
    assert one(results, objective("p95_ms", "<", 200)).outcome is Outcome.PASS


def test_general_api_excludes_ai_generation(make_results: MakeResults) -> None:
    api = endpoint("/api/locations/places", 1000, histogram={10: 1000})
    ai = endpoint("ai_generation", 50, method="AI", histogram={4000: 50})
    results = make_results([api, ai])
    general = objective("p95_ms", "<", 200, exclude=["ai_generation*"])
    verdict = one(results, general)
    assert (verdict.measured, verdict.outcome) == (10, Outcome.PASS)
    assert "1 of 2 endpoints" in verdict.measured_text
    # Patterns also match "METHOD name".
    assert one(results, objective("p95_ms", "<", 200, exclude=["AI *"])).measured == 10


def test_p95_without_histograms_is_stated_as_approximate(make_results: MakeResults) -> None:
    a = endpoint("/a", 900)  # p95 50 ms, max 100 ms
    b = endpoint("/b", 100, p95_ms=900.0, max_ms=1000.0, percentiles_ms={"50": 500.0, "95": 900.0})
    c = endpoint("/excluded", 10)
    results = make_results([a, b, c])
    verdict = one(results, objective("p95_ms", "<", 200, exclude=["/excluded"]))
    assert "approximate" in verdict.reason
    assert verdict.measured is not None
    assert 100 < verdict.measured < 1000
    # Every endpoint covered and no histograms: locust's Aggregated row is exact.
    everything = one(results, objective("p95_ms", "<", 200))
    assert "Aggregated" in everything.reason
    assert everything.measured == results.totals.p95_ms


def test_p95_no_data_cases(make_results: MakeResults) -> None:
    results = make_results([endpoint("/a", 3)])
    nothing = one(results, objective("p95_ms", "<", 200, endpoints=["/api/*"]))
    assert nothing.outcome is Outcome.NO_DATA
    assert nothing.measured is None
    assert "no locust endpoint matches" in nothing.reason
    few = one(results, objective("p95_ms", "<", 200, min_samples=100))
    assert few.outcome is Outcome.NO_DATA
    assert "3 requests" in few.reason


# -- errors and throughput ---------------------------------------------------------------------


def test_error_rate(make_results: MakeResults) -> None:
    results = make_results([endpoint("/a", 9_990, failures=5), endpoint("/b", 10, failures=5)])
    verdict = one(results, objective("error_rate", "<", 0.001))
    assert verdict.measured == pytest.approx(0.001)
    assert verdict.outcome is Outcome.FAIL  # 0.1% is not < 0.1%
    assert "most failing: GET /b 5/10" in verdict.reason
    assert one(results, objective("error_rate", "<", 0.001, exclude=["/b"])).outcome is Outcome.PASS


def test_windowed_error_rate_finds_the_bad_stretch(make_results: MakeResults) -> None:
    # 20 minutes at 100 requests/s; 150 failures inside one minute → 0.125% overall.
    series, requests, failures = [], 0, 0
    for second in range(1201):
        series.append(
            TimePoint(
                timestamp=T0 + timedelta(seconds=second),
                users=50,
                rps=100,
                failures_per_s=0,
                requests_total=requests,
                failures_total=failures,
            )
        )
        requests += 100
        failures += 5 if 600 <= second < 630 else 0
    results = make_results(
        [endpoint("/a", requests, failures=failures)],
        timeseries=series,
        ended_at=T0 + timedelta(seconds=1200),
    )
    overall = one(results, objective("error_rate", "<=", 0.01))
    assert overall.outcome is Outcome.PASS
    windowed = one(results, objective("error_rate", "<=", 0.001, window_s=300, id="alert"))
    assert windowed.measured == pytest.approx(150 / 30_000)
    assert windowed.outcome is Outcome.FAIL
    assert "worst 300 s window" in windowed.measured_text


def test_throughput_miss_on_a_laptop_is_no_data_not_fail(make_results: MakeResults) -> None:
    results = make_results([endpoint("/a", 60_000)])  # 1,000 rps over 60 s
    scale_bound = objective("throughput_rps", ">=", 5000, requires_production_scale=True)
    local = one(results, scale_bound)
    assert local.outcome is Outcome.NO_DATA
    assert local.measured == pytest.approx(1000)
    assert "platform 'local'" in local.reason
    assert "capacity model" in local.reason
    aks = one(results.model_copy(update={"platform": "aks"}), scale_bound)
    assert aks.outcome is Outcome.FAIL
    met = one(results, objective("throughput_rps", ">=", 500, requires_production_scale=True))
    assert met.outcome is Outcome.PASS
    plain = one(results, objective("throughput_rps", ">=", 5000))
    assert plain.outcome is Outcome.FAIL


# -- availability and chaos ----------------------------------------------------------------------


def test_availability_from_the_steady_prober(make_results: MakeResults) -> None:
    target = objective("availability", ">=", 0.999)
    passing = one(make_results(probes=probes([True] * 999 + [False])), target)
    assert (passing.measured, passing.outcome) == (0.999, Outcome.PASS)
    assert "999/1,000 probes ok" in passing.measured_text
    failing = one(make_results(probes=probes([True] * 998 + [False] * 2)), target)
    assert failing.outcome is Outcome.FAIL
    missing = one(make_results(), target)
    assert missing.outcome is Outcome.NO_DATA
    assert "prober" in missing.reason


def test_windowed_availability_catches_a_short_outage(make_results: MakeResults) -> None:
    outcomes = [True] * 1200
    outcomes[700:705] = [False] * 5
    results = make_results(probes=probes(outcomes), ended_at=T0 + timedelta(seconds=1200))
    assert one(results, objective("availability", ">=", 0.995)).outcome is Outcome.PASS
    windowed = one(results, objective("availability", ">=", 0.99, window_s=300))
    assert windowed.measured == pytest.approx(295 / 300)
    assert windowed.outcome is Outcome.FAIL
    short = one(
        make_results(probes=probes([True] * 30)),
        objective("availability", ">=", 0.99, window_s=300),
    )
    assert "whole run" in short.reason


def test_availability_is_judged_again_inside_chaos_windows(make_results: MakeResults) -> None:
    outcomes = [True] * 600
    outcomes[100:106] = [False] * 6  # the outage while redis was down
    event = ChaosEvent(
        name="redis-outage",
        started_at=T0 + timedelta(seconds=95),
        ended_at=T0 + timedelta(seconds=120),
        recovered_at=T0 + timedelta(seconds=124),
    )
    results = make_results(probes=probes(outcomes), chaos_events=[event])
    spec = SlaSpec(
        profile="prod",
        deploys="prod",
        title="t",
        objectives=[objective("availability", ">=", 0.99)],
    )
    overall, chaos = judge(results, spec)
    assert overall.outcome is Outcome.PASS
    assert chaos.objective_id == "availability@chaos"
    assert chaos.scope == "chaos"
    assert chaos.measured == pytest.approx(24 / 30)  # probes 95..124 inclusive
    assert chaos.outcome is Outcome.FAIL
    quiet = SlaSpec(
        profile="prod",
        deploys="prod",
        title="t",
        objectives=[objective("availability", ">=", 0.99, during_chaos=False)],
    )
    assert len(judge(results, quiet)) == 1
    no_probes = judge(make_results(chaos_events=[event]), spec)
    assert [v.outcome for v in no_probes] == [Outcome.NO_DATA, Outcome.NO_DATA]


def test_recovery_from_chaos_events(make_results: MakeResults) -> None:
    def event(name: str, recovery_s: float | None) -> ChaosEvent:
        recovered = None if recovery_s is None else T0 + timedelta(seconds=10 + recovery_s)
        return ChaosEvent(name=name, started_at=T0 + timedelta(seconds=10), recovered_at=recovered)

    five_minutes = objective("recovery_s", "<", 300)
    none = one(make_results(), five_minutes)
    assert none.outcome is Outcome.NO_DATA
    assert "no chaos events" in none.reason
    events = [event("kill-replica-trip", 12), event("postgres-restart", 41)]
    results = make_results(chaos_events=events)
    worst = one(results, five_minutes)
    assert (worst.measured, worst.outcome) == (41, Outcome.PASS)
    assert "kill-replica-trip 12 s" in worst.reason
    failover = one(results, objective("recovery_s", "<", 30, events=["postgres*"]))
    assert (failover.measured, failover.outcome) == (41, Outcome.FAIL)
    redis = one(results, objective("recovery_s", "<", 60, events=["redis*"]))
    assert redis.outcome is Outcome.NO_DATA
    assert "run had: kill-replica-trip, postgres-restart" in redis.reason
    stuck = one(make_results(chaos_events=[event("zone-outage", None)]), five_minutes)
    assert stuck.outcome is Outcome.FAIL
    assert stuck.measured is None
    assert "not recovered: zone-outage (≥ 50 s)" in stuck.measured_text


# -- custom samples ----------------------------------------------------------------------------


def test_ai_generation_p95(make_results: MakeResults) -> None:
    values = [float(v) for v in range(100, 2100, 20)]  # 100 samples, 100..2080 ms
    results = make_results(custom_metrics={"ai_generation": samples(values)})
    verdict = one(results, objective("ai_generation_p95_ms", "<", 5000))
    assert verdict.outcome is Outcome.PASS
    assert verdict.measured == pytest.approx(1981.0)
    assert one(results, objective("ai_generation_p95_ms", "<", 1000)).outcome is Outcome.FAIL
    absent = one(make_results(), objective("ai_generation_p95_ms", "<", 5000))
    assert absent.outcome is Outcome.NO_DATA
    assert "'ai_generation' samples" in absent.reason


def test_failed_generations_cannot_flatter_the_percentile(make_results: MakeResults) -> None:
    few_failed = make_results(custom_metrics={"ai_generation": samples([100.0] * 97, failed=3)})
    verdict = one(few_failed, objective("ai_generation_p95_ms", "<", 5000))
    assert verdict.outcome is Outcome.PASS
    assert "3 failed (counted as slower than any target)" in verdict.measured_text
    many_failed = make_results(custom_metrics={"ai_generation": samples([100.0] * 90, failed=10)})
    failing = one(many_failed, objective("ai_generation_p95_ms", "<", 5000))
    assert failing.outcome is Outcome.FAIL
    assert failing.measured is None
    assert "more than 5% of generations failed" in failing.measured_text


def test_windowed_ai_generation(make_results: MakeResults) -> None:
    values = [500.0] * 600
    values[300:330] = [9000.0] * 30  # 30 s of slow generations: 25% of a 2-minute window
    results = make_results(custom_metrics={"ai_generation": samples(values)})
    assert one(results, objective("ai_generation_p95_ms", "<=", 5000)).outcome is Outcome.PASS
    windowed = one(results, objective("ai_generation_p95_ms", "<=", 5000, window_s=120))
    assert windowed.measured == 9000
    assert windowed.outcome is Outcome.FAIL


def test_cache_hit_ratio(make_results: MakeResults) -> None:
    ratios = CustomMetric(
        name="cache_hit_ratio",
        unit="ratio",
        samples=[
            Sample(timestamp=T0 + timedelta(seconds=i), value=v)
            for i, v in enumerate([0.7, 0.9, 0.95])
        ],
    )
    results = make_results(custom_metrics={"cache_hit_ratio": ratios, "l2_hits": ratios})
    verdict = one(results, objective("cache_hit_ratio", ">=", 0.8))
    assert verdict.measured == pytest.approx(0.85)
    assert verdict.outcome is Outcome.PASS
    assert "lowest steady-state sample 70%" in verdict.reason
    assert one(results, objective("cache_hit_ratio", ">=", 0.95)).outcome is Outcome.FAIL
    renamed = objective("cache_hit_ratio", ">=", 0.8, custom_metric="l2_hits")
    assert one(results, renamed).outcome is Outcome.PASS
    assert one(make_results(), renamed).outcome is Outcome.NO_DATA


def test_cache_hit_ratio_is_judged_after_the_warm_up(make_results: MakeResults) -> None:
    """Cold caches fill in the first seconds: a run whose steady state holds the target passes,
    and the report still shows the whole run's mean beside it."""
    values = [0.4, 0.5, 0.6] + [0.92] * 30  # three cold seconds, then the steady state
    ratios = CustomMetric(
        name="cache_hit_ratio",
        unit="ratio",
        samples=[
            Sample(timestamp=T0 + timedelta(seconds=i * 2), value=v) for i, v in enumerate(values)
        ],
    )
    results = make_results(custom_metrics={"cache_hit_ratio": ratios})
    whole_run = one(results, objective("cache_hit_ratio", ">=", 0.9))
    assert whole_run.outcome is Outcome.FAIL  # the cold start averaged in
    steady = one(results, objective("cache_hit_ratio", ">=", 0.9, warmup_s=6))
    assert steady.outcome is Outcome.PASS
    assert steady.measured == pytest.approx(0.92)
    assert "steady state after 6 s" in steady.measured_text
    assert "whole run 88.182% over 33 samples" in steady.reason
    late = one(results, objective("cache_hit_ratio", ">=", 0.9, warmup_s=3600))
    assert late.outcome is Outcome.NO_DATA
    assert "after the 3600 s warm-up" in late.reason


def test_refusals_are_counted_apart_and_planning_errors_fail(make_results: MakeResults) -> None:
    rows = [Sample(timestamp=T0 + timedelta(seconds=i), value=800.0) for i in range(40)]
    refused = [
        Sample(
            timestamp=T0 + timedelta(seconds=40 + i),
            value=300.0,
            ok=False,
            labels={"outcome": "refused", "error": "[must_visit_closed] closed every day"},
        )
        for i in range(5)
    ]
    errors = [
        Sample(
            timestamp=T0 + timedelta(seconds=50 + i),
            value=300.0,
            ok=False,
            labels={"error": "[planning_error] solver failed"},
        )
        for i in range(3)
    ]
    metric = CustomMetric(name="ai_generation", samples=rows + refused)
    verdict = one(
        make_results(custom_metrics={"ai_generation": metric}),
        objective("ai_generation_p95_ms", "<", 5000),
    )
    assert verdict.outcome is Outcome.PASS
    assert verdict.measured == pytest.approx(800.0)
    assert "5 refused as infeasible, not counted" in verdict.measured_text + verdict.reason
    assert metric.summary.refused == 5
    assert metric.summary.failed == 0
    with_errors = CustomMetric(name="ai_generation", samples=rows + refused + errors)
    failing = one(
        make_results(custom_metrics={"ai_generation": with_errors}),
        objective("ai_generation_p95_ms", "<", 5000),
    )
    assert failing.outcome is Outcome.FAIL  # 3 of 43 generations failed: over 5%
    assert with_errors.summary.failed == 3


# -- gate, exit code, table --------------------------------------------------------------------


def _verdict(outcome: Outcome, gating: bool = True) -> Verdict:
    return Verdict(
        objective_id=f"{outcome.value}-{gating}",
        description="",
        source="SPEC.md",
        metric="p95_ms",
        target="< 1 ms",
        measured=None,
        measured_text="x",
        outcome=outcome,
        reason="r",
        gating=gating,
    )


def test_gate_policy_and_exit_code() -> None:
    passing = [_verdict(Outcome.PASS), _verdict(Outcome.FAIL, gating=False)]
    assert exit_code(passing) == 0
    assert gate_passed(passing)
    no_data = [*passing, _verdict(Outcome.NO_DATA)]
    assert exit_code(no_data) == 0  # NO-DATA is not a FAIL…
    assert not gate_passed(no_data)  # …but by default it keeps the gate closed
    assert gate_passed(no_data, NoDataPolicy.ALLOW)
    failing = [*no_data, _verdict(Outcome.FAIL)]
    assert exit_code(failing) == 1
    assert not gate_passed(failing, NoDataPolicy.ALLOW)
    assert tally(failing) == {"PASS": 1, "FAIL": 1, "NO-DATA": 1}


def test_table_in_an_80_column_log() -> None:
    verdicts = [_verdict(Outcome.PASS), _verdict(Outcome.NO_DATA), _verdict(Outcome.FAIL, False)]
    buffer = io.StringIO()
    print_verdicts(
        verdicts, title="prod", console=Console(file=buffer, width=80, color_system=None)
    )
    text = buffer.getvalue()
    assert all(len(line) <= 80 for line in text.splitlines())
    for word in ("PASS-True", "NO-DATA", "(goal)", "Measured / reason"):
        assert word in text
    assert "gating objectives: 1 PASS, 0 FAIL, 1 NO-DATA — gate closed" in text


def test_every_spec_gets_a_verdict_per_objective_on_a_real_run(locust_run: Path) -> None:
    results = LoadResults.load(locust_run)
    for name in available_specs():
        spec = load_spec(name)
        verdicts = judge(results, spec)
        assert [v.objective_id for v in verdicts] == [o.id for o in spec.objectives]
        for verdict in verdicts:
            assert verdict.measured_text
            assert verdict.reason
            if verdict.measured is None:
                # Only "nothing to judge" or a failure no number states leaves it empty.
                assert verdict.outcome in (Outcome.NO_DATA, Outcome.FAIL)
    dev = {v.objective_id: v for v in judge(results, load_spec("dev"))}
    assert dev["general-api"].outcome is Outcome.PASS  # tiny app, well under 1 s
    assert dev["availability"].outcome is Outcome.PASS


def test_profile_mismatch_is_named(make_results: MakeResults) -> None:
    prod_run = make_results()
    assert profile_mismatch(prod_run, load_spec("phase2")) is None
    assert profile_mismatch(prod_run, load_spec("prod")) is None
    warning = profile_mismatch(prod_run, load_spec("dev"))
    assert warning is not None
    assert "deployed 'prod'" in warning

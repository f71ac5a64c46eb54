"""What each SLA metric measures in a `LoadResults`; `scenarios.sla.judge` compares it to targets.

Every function returns a `Measurement` whose `text` is always filled in — with the number, or
with why there is none — so a verdict never shows an empty "measured" cell.

Definitions:

* `p95_ms` — p95 over the requests of the covered endpoints: exact from locust's final
  histograms when present, locust's Aggregated row when every endpoint is covered, else a
  request-weighted mixture of the endpoints' reported percentiles (stated as approximate).
* `error_rate` — failures / requests of the covered endpoints; with a window, the worst rolling
  window of the per-second series (all endpoints).
* `throughput_rps` — requests/s over the whole run (locust's Requests/s) of the covered endpoints.
* `availability` — ok / all steady-prober requests; with a window, the worst full window; also
  restricted to chaos windows (`availability_during_chaos`).
* `ai_generation_p95_ms` — p95 of the `ai_generation` samples; a failed generation counts as
  slower than any target, so failures cannot flatter the percentile. Refusals (the planner
  found the trip infeasible as asked, `outcome=refused`) are no generations: left out, counted.
* `recovery_s` — per matching chaos event `recovered_at − started_at`; the worst is measured.
* `cache_hit_ratio` — mean of the sampled ratios in the steady state: samples from `warmup_s`
  after the run's start (cold caches fill in the first seconds); the whole run's mean is shown
  beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import TypeVar

from runs import quantiles
from runs.results import REFUSED, EndpointStats, LoadResults, ProbeResult, Sample
from runs.spec import Objective, format_value

T = TypeVar("T")


@dataclass(frozen=True)
class Measurement:
    value: float | None
    text: str
    detail: str = ""
    no_data: str | None = None
    """Why there is nothing to judge (→ NO-DATA)."""
    failed: str | None = None
    """Why the objective fails although no single number states it (→ FAIL), e.g. no recovery."""


def _no_data(reason: str) -> Measurement:
    return Measurement(value=None, text="no data", no_data=reason)


# -- request metrics ------------------------------------------------------------------------


def covered_endpoints(results: LoadResults, objective: Objective) -> list[EndpointStats]:
    """Endpoints whose locust name (or 'METHOD name') matches `endpoints` and no `exclude`."""

    def matches(entry: EndpointStats, patterns: Sequence[str]) -> bool:
        return any(fnmatchcase(entry.name, p) or fnmatchcase(entry.key, p) for p in patterns)

    return [
        e
        for e in results.endpoints
        if matches(e, objective.endpoints) and not matches(e, objective.exclude)
    ]


def _coverage_problem(results: LoadResults, objective: Objective) -> str | None:
    covered = covered_endpoints(results, objective)
    if not covered:
        return (
            f"no locust endpoint matches endpoints={objective.endpoints} "
            f"exclude={objective.exclude} ({len(results.endpoints)} endpoints in the run)"
        )
    requests = sum(e.requests for e in covered)
    if requests < objective.min_samples:
        return (
            f"{requests} requests on the covered endpoints (< min_samples {objective.min_samples})"
        )
    return None


def _scope(results: LoadResults, covered: list[EndpointStats]) -> str:
    if len(covered) == len(results.endpoints):
        return f"all {len(covered)} endpoints"
    return f"{len(covered)} of {len(results.endpoints)} endpoints"


def p95_ms(results: LoadResults, objective: Objective) -> Measurement:
    if problem := _coverage_problem(results, objective):
        return _no_data(problem)
    covered = covered_endpoints(results, objective)
    requests = sum(e.requests for e in covered)
    everything = len(covered) == len(results.endpoints)
    value: float | None
    if all(e.histogram for e in covered):
        value = quantiles.histogram_percentile(
            quantiles.merge_histograms([e.histogram or {} for e in covered]), 0.95
        )
        how = "from locust's final histograms"
    elif everything and results.totals.p95_ms is not None:
        value, how = results.totals.p95_ms, "locust's Aggregated row"
    else:
        value = quantiles.mixture_percentile(
            [(e.requests, e.percentile_points()) for e in covered if e.percentiles_ms], 0.95
        )
        how = "approximate: mixture of per-endpoint percentiles (no histograms)"
    if value is None:
        return _no_data("locust reported no response times for the covered endpoints")
    slowest = max(covered, key=lambda e: e.p95_ms or 0.0)
    detail = f"{how}; slowest: {slowest.key} p95 {format_value('p95_ms', slowest.p95_ms or 0)}"
    return Measurement(
        value=value,
        text=f"{format_value('p95_ms', value)} (p95, {_scope(results, covered)}, "
        f"{requests:,} requests)",
        detail=detail,
    )


def error_rate(results: LoadResults, objective: Objective) -> Measurement:
    if objective.window_s is not None:
        return _windowed_error_rate(results, objective)
    if problem := _coverage_problem(results, objective):
        return _no_data(problem)
    covered = covered_endpoints(results, objective)
    requests = sum(e.requests for e in covered)
    failures = sum(e.failures for e in covered)
    value = failures / requests
    worst = max(covered, key=lambda e: e.error_rate or 0.0)
    detail = f"most failing: {worst.key} {worst.failures:,}/{worst.requests:,}" if failures else ""
    return Measurement(
        value=value,
        text=f"{format_value('error_rate', value)} ({failures:,}/{requests:,}, "
        f"{_scope(results, covered)})",
        detail=detail,
    )


def _windowed_error_rate(results: LoadResults, objective: Objective) -> Measurement:
    series = results.timeseries
    window = timedelta(seconds=objective.window_s or 0)
    if len(series) < 2 or series[-1].requests_total == series[0].requests_total:
        return _no_data("no requests in the per-second series")
    spans: list[tuple[int, int]] = []
    start = 0
    for end in range(1, len(series)):
        # The latest start that still leaves a full window before `end`.
        while start + 1 < end and series[end].timestamp - series[start + 1].timestamp >= window:
            start += 1
        if series[end].timestamp - series[start].timestamp >= window:
            spans.append((start, end))
    note = ""
    if not spans:
        spans, note = [(0, len(series) - 1)], "; run shorter than the window: whole run"
    worst: tuple[float, int, int] | None = None
    for i, j in spans:
        requests = series[j].requests_total - series[i].requests_total
        if requests <= 0:
            continue
        rate = (series[j].failures_total - series[i].failures_total) / requests
        if worst is None or rate > worst[0]:
            worst = (rate, i, j)
    if worst is None:
        return _no_data("no requests in any window")
    rate, i, j = worst
    span = f"{series[i].timestamp:%H:%M:%S}–{series[j].timestamp:%H:%M:%S}"
    return Measurement(
        value=rate,
        text=f"{format_value('error_rate', rate)} (worst {objective.window_s:g} s window, {span})",
        detail=f"windows judged: {len(spans)} over the per-second series{note}",
    )


def throughput_rps(results: LoadResults, objective: Objective) -> Measurement:
    if problem := _coverage_problem(results, objective):
        return _no_data(problem)
    covered = covered_endpoints(results, objective)
    value = sum(e.rps for e in covered)
    return Measurement(
        value=value,
        text=f"{format_value('throughput_rps', value)} (mean over the run, "
        f"{_scope(results, covered)}, {results.users} users)",
    )


# -- windows over timestamped items ---------------------------------------------------------


def _worst_window(
    items: Sequence[T],
    when: Callable[[T], datetime],
    window_s: float,
    evaluate: Callable[[Sequence[T]], float | None],
    lower_is_worse: bool,
) -> tuple[float, datetime, datetime, int, str] | None:
    """Worst value of `evaluate` over every full window ending at an item (sorted by time).

    Only full windows count — a window that opens on the first item would judge the warm-up
    seconds alone; a run shorter than one window is judged as a whole.
    Returns (value, window start, window end, windows evaluated, note).
    """
    if not items:
        return None
    window = timedelta(seconds=window_s)
    first = when(items[0])
    note = ""
    candidates: list[tuple[int, int]] = []
    start = 0
    for end in range(len(items)):
        moment = when(items[end])
        if moment - first < window:
            continue
        while moment - when(items[start]) >= window:
            start += 1
        candidates.append((start, end))
    if not candidates:
        candidates, note = [(0, len(items) - 1)], "run shorter than the window: whole run"
    worst: tuple[float, datetime, datetime] | None = None
    for i, j in candidates:
        value = evaluate(items[i : j + 1])
        if value is None:
            continue
        if worst is None or (value < worst[0] if lower_is_worse else value > worst[0]):
            worst = (value, when(items[i]), when(items[j]))
    if worst is None:
        return None
    return worst[0], worst[1], worst[2], len(candidates), note


# -- steady prober ---------------------------------------------------------------------------


def _ratio_ok(probes: Sequence[ProbeResult]) -> float | None:
    return sum(p.ok for p in probes) / len(probes) if probes else None


def availability(results: LoadResults, objective: Objective) -> Measurement:
    probes = results.probes
    if len(probes) < objective.min_samples:
        return _no_data(
            f"{len(probes)} steady-prober results (< min_samples {objective.min_samples}); "
            "was the prober running?"
        )
    targets = ", ".join(sorted({p.target for p in probes}))
    if objective.window_s is not None:
        worst = _worst_window(
            probes, lambda p: p.timestamp, objective.window_s, _ratio_ok, lower_is_worse=True
        )
        if worst is None:
            return _no_data("no steady-prober results in any window")
        value, start, end, count, note = worst
        return Measurement(
            value=value,
            text=f"{format_value('availability', value)} (worst {objective.window_s:g} s "
            f"window, {start:%H:%M:%S}–{end:%H:%M:%S})",
            detail=f"windows judged: {count} over {len(probes):,} probes of {targets}"
            + (f"; {note}" if note else ""),
        )
    ok = sum(p.ok for p in probes)
    value = ok / len(probes)
    return Measurement(
        value=value,
        text=f"{format_value('availability', value)} ({ok:,}/{len(probes):,} probes ok)",
        detail=f"targets: {targets}",
    )


def availability_during_chaos(results: LoadResults, objective: Objective) -> Measurement:
    """Availability of the probes that fell inside any chaos window."""
    windows = [e.window(results.ended_at) for e in results.chaos_events]
    inside = [p for p in results.probes if any(a <= p.timestamp <= b for a, b in windows)]
    names = ", ".join(e.name for e in results.chaos_events)
    if len(inside) < objective.min_samples:
        return _no_data(f"{len(inside)} steady-prober results inside the chaos windows ({names})")
    ok = sum(p.ok for p in inside)
    value = ok / len(inside)
    return Measurement(
        value=value,
        text=f"{format_value('availability', value)} ({ok:,}/{len(inside):,} probes ok "
        f"during chaos)",
        detail=f"chaos windows: {names}",
    )


# -- custom samples ----------------------------------------------------------------------------


def _p95_counting_failures(samples: Sequence[Sample]) -> float | None:
    if not samples:
        return None
    values = [s.value if s.ok else math.inf for s in samples]
    return quantiles.percentile(values, 0.95)


def ai_generation_p95_ms(results: LoadResults, objective: Objective) -> Measurement:
    name = objective.samples_metric
    metric = results.custom_metrics.get(name)
    answered = metric.samples if metric else []
    samples = [s for s in answered if s.labels.get("outcome") != REFUSED]
    refused = len(answered) - len(samples)
    refused_note = f"; {refused} refused as infeasible, not counted" if refused else ""
    if len(samples) < objective.min_samples:
        return _no_data(
            f"{len(samples)} '{name}' samples (< min_samples {objective.min_samples})"
            f"{refused_note}; did the journeys request itineraries?"
        )
    failed = sum(1 for s in samples if not s.ok)
    failures_note = f", {failed} failed (counted as slower than any target)" if failed else ""
    failures_note += refused_note
    if objective.window_s is not None:
        worst = _worst_window(
            samples,
            lambda s: s.timestamp,
            objective.window_s,
            _p95_counting_failures,
            lower_is_worse=False,
        )
        assert worst is not None  # samples is non-empty and every window holds one
        value, start, end, count, note = worst
        where = f"worst {objective.window_s:g} s window, {start:%H:%M:%S}–{end:%H:%M:%S}"
        detail = f"windows judged: {count} over {len(samples)} samples{failures_note}" + (
            f"; {note}" if note else ""
        )
    else:
        overall = _p95_counting_failures(samples)
        assert overall is not None  # samples is non-empty
        value = overall
        where, detail = f"p95 of {len(samples)} generations{failures_note}", ""
    if math.isinf(value):
        scope = "in the worst window" if objective.window_s is not None else "overall"
        reason = f"more than 5% of generations failed {scope} ({failed}/{len(samples)} in all)"
        return Measurement(value=None, text=f"undefined: {reason} ({where})", failed=reason)
    return Measurement(
        value=value, text=f"{format_value('ai_generation_p95_ms', value)} ({where})", detail=detail
    )


def cache_hit_ratio(results: LoadResults, objective: Objective) -> Measurement:
    name = objective.samples_metric
    metric = results.custom_metrics.get(name)
    every = metric.samples if metric else []
    warmup_s = objective.warmup_s or 0.0
    steady_from = results.started_at + timedelta(seconds=warmup_s)
    samples = [s for s in every if s.timestamp >= steady_from]
    if len(samples) < objective.min_samples:
        return _no_data(
            f"{len(samples)} '{name}' samples after the {warmup_s:g} s warm-up "
            f"(< min_samples {objective.min_samples}; {len(every)} in the whole run)"
        )
    value = sum(s.value for s in samples) / len(samples)
    low = min(s.value for s in samples)
    whole = sum(s.value for s in every) / len(every)
    scope = f"steady state after {warmup_s:g} s, " if warmup_s else ""
    return Measurement(
        value=value,
        text=f"{format_value('cache_hit_ratio', value)} ({scope}mean of {len(samples)} samples)",
        detail=f"whole run {format_value('cache_hit_ratio', whole)} over {len(every)} samples; "
        f"lowest steady-state sample {format_value('cache_hit_ratio', low)}",
    )


# -- chaos -------------------------------------------------------------------------------------


def recovery_s(results: LoadResults, objective: Objective) -> Measurement:
    if not results.chaos_events:
        return _no_data("no chaos events in this run (sla-check --with-chaos records them)")
    events = [
        e for e in results.chaos_events if any(fnmatchcase(e.name, p) for p in objective.events)
    ]
    if not events:
        had = ", ".join(sorted({e.name for e in results.chaos_events}))
        return _no_data(f"no chaos event matches {objective.events} (run had: {had})")
    pending = [e for e in events if e.recovery_s is None]
    if pending:
        longest = max((results.ended_at - e.started_at).total_seconds() for e in pending)
        names = ", ".join(e.name for e in pending)
        reason = f"not recovered before the run ended: {names}"
        return Measurement(
            value=None,
            text=f"not recovered: {names} (≥ {format_value('recovery_s', longest)})",
            failed=reason,
        )
    worst = max(events, key=lambda e: e.recovery_s or 0.0)
    value = worst.recovery_s or 0.0
    each = ", ".join(f"{e.name} {format_value('recovery_s', e.recovery_s or 0)}" for e in events)
    return Measurement(
        value=value,
        text=f"{format_value('recovery_s', value)} (worst of {len(events)}: {worst.name})",
        detail=each,
    )


MEASURES: dict[str, Callable[[LoadResults, Objective], Measurement]] = {
    "p95_ms": p95_ms,
    "error_rate": error_rate,
    "throughput_rps": throughput_rps,
    "availability": availability,
    "ai_generation_p95_ms": ai_generation_p95_ms,
    "cache_hit_ratio": cache_hit_ratio,
    "recovery_s": recovery_s,
}

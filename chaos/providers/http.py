"""Probes of what users see through the front door: availability, error rate and the longest
wait, over the background traffic recorded since the experiment began plus a few fresh
requests made by the probe itself (so a probe run with no background load still measures)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from chaos.accounts import AccountPool, pool
from chaos.context import Configuration, context_from
from chaos.events import current_experiment, experiment_started_at
from chaos.traffic import KEY_ROUTES, read_traffic, request_once
from runs.quantiles import percentile
from runs.results import ProbeResult

RATE_LIMITED = 429


def probe_pool(configuration: Configuration | None) -> AccountPool:
    """The probe accounts of the experiment in progress (its own, sized to the rate limit)."""
    context = context_from(configuration)
    experiment = current_experiment(context.run_dir)
    return pool(context.base_url, context.run_dir, f"probe-{experiment}")


def fresh_requests(
    configuration: Configuration | None, count: int, *, timeout_s: float = 10.0
) -> list[ProbeResult]:
    """`count` GETs over the key routes, one every 50 ms, as the experiment's probe accounts."""
    context = context_from(configuration)
    accounts = probe_pool(configuration)
    results = []
    with httpx.Client(base_url=context.base_url, timeout=timeout_s) as client:
        for index in range(count):
            route = KEY_ROUTES[index % len(KEY_ROUTES)]
            results.append(request_once(client, route, accounts.take().headers))
            time.sleep(0.05)
    return results


def summarise(results: list[ProbeResult]) -> dict[str, Any]:
    """Availability, error rate, latency and what failed, as plain JSON. A 429 is the harness
    over the per-user limit, not the service failing: counted as `rate_limited`, apart."""
    limited = [r for r in results if r.status == RATE_LIMITED]
    judged = [r for r in results if r.status != RATE_LIMITED]
    total = len(judged)
    failures = [r for r in judged if not r.ok]
    latencies = [r.latency_ms for r in judged]
    reasons = Counter(
        str(r.status) if r.status is not None else (r.error or "?").split(":")[0] for r in failures
    )
    return {
        "requests": total,
        "failures": len(failures),
        "availability": (total - len(failures)) / total if total else None,
        "error_rate": len(failures) / total if total else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "max_latency_ms": round(max(latencies), 1) if latencies else None,
        "failures_by_reason": dict(reasons),
        "rate_limited": len(limited),
    }


def traffic_summary(
    fresh: int = 12, include_recorded: bool = True, configuration: Configuration | None = None
) -> dict[str, Any]:
    """What users saw so far in this experiment: the recorded background requests since it
    began (unless `include_recorded` is false: then only now matters, e.g. after a restart
    whose outage is judged by its recovery time) plus `fresh` new requests."""
    context = context_from(configuration)
    since = experiment_started_at(context.run_dir)
    recorded = read_traffic(context.run_dir, since) if include_recorded else []
    new = fresh_requests(configuration, fresh)
    summary = summarise([*recorded, *new])
    summary["background_requests"] = len(recorded)
    summary["fresh_requests"] = len(new)
    summary["fresh_failures"] = sum(1 for r in new if not r.ok)
    return summary

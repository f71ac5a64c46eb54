"""Reading a rollout's counters from Prometheus, per replica (each replica is one version's:
the scrape config labels it `version` and `track`, and the controller knows which is which).

The counters are read as they stand (instant queries of the cumulative series) and differenced
in Python against the step's start: a new version's replicas start from zero, so nothing they
served is lost to `increase()`'s extrapolation at a series' first sample.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence

from runs.alerts import JOB, NOT_USER_ROUTES
from scenarios.rollout.analysis import Counters, summed
from simulation.backing.prometheus import PrometheusError, query

FAILED = ',status=~"5.."'


def _selector(services: Iterable[str], extra: str = "") -> str:
    names = "|".join(sorted(services))
    return f'{{job="{JOB}",service=~"{names}",route!~"{NOT_USER_ROUTES}"{extra}}}'


def _by_replica(rows: Sequence[Mapping[str, object]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for row in rows:
        metric = row["metric"]
        value = row["value"]
        assert isinstance(metric, dict) and isinstance(value, list)
        found[str(metric.get("replica", ""))] = float(value[1])
    return found


def _buckets(rows: Sequence[Mapping[str, object]]) -> dict[str, dict[float, float]]:
    found: dict[str, dict[float, float]] = {}
    for row in rows:
        metric = row["metric"]
        value = row["value"]
        assert isinstance(metric, dict) and isinstance(value, list)
        le = str(metric.get("le", "+Inf"))
        bound = math.inf if le == "+Inf" else float(le)
        found.setdefault(str(metric.get("replica", "")), {})[bound] = float(value[1])
    return found


def snapshot(prometheus_url: str, services: Iterable[str]) -> dict[str, Counters]:
    """Every replica's cumulative counters of users' requests to `services`, now."""
    services = list(services)
    requests = _by_replica(
        query(prometheus_url, f"sum by (replica) (http_requests_total{_selector(services)})")
    )
    errors = _by_replica(
        query(
            prometheus_url,
            f"sum by (replica) (http_requests_total{_selector(services, FAILED)})",
        )
    )
    latency = _buckets(
        query(
            prometheus_url,
            f"sum by (replica, le) (http_request_duration_seconds_bucket{_selector(services)})",
        )
    )
    ai = _buckets(
        query(
            prometheus_url,
            f'sum by (replica, le) (ai_generation_seconds_bucket{{job="{JOB}"}})',
        )
    )
    names = set(requests) | set(latency) | set(ai)
    return {
        name: Counters(
            requests.get(name, 0.0), errors.get(name, 0.0), latency.get(name, {}), ai.get(name, {})
        )
        for name in names
    }


def track_delta(
    now: Mapping[str, Counters], start: Mapping[str, Counters], replicas: Sequence[str]
) -> Counters:
    """What `replicas` served between two snapshots (a replica new since `start` from zero)."""
    deltas = {
        name: now[name].minus(start.get(name, Counters())) for name in replicas if name in now
    }
    return summed(deltas, list(deltas))


def wait_scraped(prometheus_url: str, replicas: Sequence[str], *, timeout_s: float = 30.0) -> float:
    """Block until Prometheus has scraped every one of `replicas` successfully (`up == 1`);
    returns the seconds it took. A rollout judged without the new version's numbers would pass
    on no data, so this fails loudly instead."""
    began = time.monotonic()
    wanted = set(replicas)
    names = "|".join(sorted(wanted))
    while True:
        try:
            rows = query(prometheus_url, f'up{{job="{JOB}",replica=~"{names}"}} == 1')
            seen = {str(r["metric"].get("replica")) for r in rows}
        except PrometheusError:
            seen = set()
        if wanted <= seen:
            return time.monotonic() - began
        if time.monotonic() - began > timeout_s:
            raise PrometheusError(
                f"Prometheus has not scraped {sorted(wanted - seen)} within {timeout_s:.0f} s"
            )
        time.sleep(0.5)

"""The run's results JSON when chaos drove the traffic itself (no locust run around it).

`runs.results.LoadResults` is locust-shaped; here it is filled from the background traffic
(`traffic.jsonl`): per-route stats, a per-second series, the requests as steady-prober results
(each user sends about one request a second, never overloaded — what the judge's availability
expects), plus the side files every run folder may hold (chaos events, AI generation samples).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from chaos.traffic import TRAFFIC_FILE
from runs.jsonl import read_jsonl
from runs.quantiles import percentile
from runs.results import (
    CHAOS_FILE,
    SAMPLES_FILE,
    ChaosEvent,
    EndpointStats,
    LoadResults,
    ProbeResult,
    SampleRecord,
    TimePoint,
)

PERCENTILES = (0.5, 0.9, 0.95, 0.99)


def endpoint_stats(name: str, records: list[ProbeResult], duration_s: float) -> EndpointStats:
    latencies = sorted(r.latency_ms for r in records) or [0.0]
    failures = sum(1 for r in records if not r.ok)
    points = {f"{q * 100:g}": percentile(latencies, q) for q in PERCENTILES}
    span = max(duration_s, 1e-9)
    return EndpointStats(
        method="GET" if name != "Aggregated" else "",
        name=name,
        requests=len(records),
        failures=failures,
        mean_ms=sum(latencies) / len(latencies),
        min_ms=latencies[0],
        max_ms=latencies[-1],
        median_ms=points["50"],
        p50_ms=points["50"],
        p90_ms=points["90"],
        p95_ms=points["95"],
        p99_ms=points["99"],
        percentiles_ms=points,
        rps=len(records) / span,
        failures_per_s=failures / span,
    )


def timeseries(records: list[ProbeResult], users: int) -> list[TimePoint]:
    by_second: dict[datetime, list[ProbeResult]] = defaultdict(list)
    for record in records:
        by_second[record.timestamp.replace(microsecond=0)].append(record)
    points: list[TimePoint] = []
    requests_total = failures_total = 0
    for second in sorted(by_second):
        batch = by_second[second]
        failed = sum(1 for r in batch if not r.ok)
        requests_total += len(batch)
        failures_total += failed
        latencies = [r.latency_ms for r in batch]
        points.append(
            TimePoint(
                timestamp=second,
                users=users,
                rps=float(len(batch)),
                failures_per_s=float(failed),
                p50_ms=percentile(latencies, 0.5),
                p95_ms=percentile(latencies, 0.95),
                requests_total=requests_total,
                failures_total=failures_total,
            )
        )
    return points


def build_chaos_results(
    run_dir: Path,
    *,
    profile: str,
    platform: str,
    host: str,
    users: int,
    started_at: datetime,
    ended_at: datetime,
    replicas: Mapping[str, int],
    notes: Iterable[str] = (),
) -> LoadResults:
    records = read_jsonl(run_dir / TRAFFIC_FILE, ProbeResult)
    duration_s = max((ended_at - started_at).total_seconds(), 1e-9)
    by_route: dict[str, list[ProbeResult]] = defaultdict(list)
    for record in records:
        by_route[record.target].append(record)
    results = LoadResults(
        profile=profile,
        platform=platform,
        host=host,
        users=users,
        duration_s=duration_s,
        started_at=started_at,
        ended_at=max(ended_at, started_at + timedelta(microseconds=1)),
        replicas=dict(replicas),
        endpoints=[endpoint_stats(n, r, duration_s) for n, r in sorted(by_route.items())],
        totals=endpoint_stats("Aggregated", records, duration_s),
        timeseries=timeseries(records, users),
        timeseries_percentiles="cumulative",
        notes=[
            "traffic: chaos background users (about 1 GET/s each on key routes), not locust; "
            "its requests double as the steady-prober results",
            *notes,
        ],
        artifacts={"traffic": TRAFFIC_FILE},
    )
    results.add_probes(records)
    results.add_samples(read_jsonl(run_dir / SAMPLES_FILE, SampleRecord))
    results.add_chaos_events(read_jsonl(run_dir / CHAOS_FILE, ChaosEvent))
    for kind, file in (("chaos_events", CHAOS_FILE), ("samples", SAMPLES_FILE)):
        if (run_dir / file).exists():
            results.artifacts[kind] = file
    return results

"""Load results: the one JSON per run that `load` writes and `sla-check`, the report and
`simulation.capacity` read (DESIGN.md › Contracts between the parts › Load results).

A run folder (`.tripgen/runs/<stamp>-<profile>/`) holds:

* `results.json` — `LoadResults` below;
* locust's own output beside it: `locust_stats.csv`, `locust_stats_history.csv`,
  `locust_failures.csv`, `locust_exceptions.csv`, `locust.json` (final per-endpoint histograms),
  `locust.html`;
* side files appended while the run is in progress, one JSON record a line:
  `samples.jsonl` (custom metrics from the locustfile, see `scenarios.load.samples`),
  `probes.jsonl` (the steady prober, `scenarios.load.probe`) and `chaos_events.jsonl`
  (the chaos runner, one `ChaosEvent` a line).

`scenarios.load.collect.build_results` turns a locust CSV prefix plus those side files into
`LoadResults`; `LoadResults.load`/`save` read and write the JSON. Chaos events known only after the
run can be added with `record_chaos_event(results_path, event)`.

Units: times in milliseconds (`*_ms`), durations in seconds (`*_s`), timestamps as timezone-aware
UTC datetimes (ISO 8601 in the JSON), ratios as fractions (0.999, not 99.9).
"""

from __future__ import annotations

import os
import platform as _platform
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field, model_validator

from runs import quantiles

RESULTS_FILE = "results.json"
CSV_PREFIX = "locust"
SAMPLES_FILE = "samples.jsonl"
PROBES_FILE = "probes.jsonl"
CHAOS_FILE = "chaos_events.jsonl"

# Platforms whose measurements stand for production scale; anything else is a simulation whose
# absolute throughput says nothing about the documented targets (judge and report say so).
PRODUCTION_PLATFORMS = frozenset({"aks"})
# The `outcome` label of a sample answered with a refusal rather than a result.
REFUSED = "refused"


class _Model(BaseModel):
    # Results are read by other parts (capacity model); ignoring unknown keys lets an older
    # reader open a newer file, while every field we do declare is validated.
    model_config = ConfigDict(extra="ignore")


class EndpointStats(_Model):
    """One row of locust's `_stats.csv` (a locust request name + type), or the Aggregated row."""

    method: str = Field(description="locust 'Type': the HTTP method or a custom request type")
    name: str
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    mean_ms: float
    min_ms: float
    max_ms: float
    median_ms: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    percentiles_ms: dict[str, float] = Field(
        default_factory=dict, description="every percentile locust reported, keyed '50', '99.9'"
    )
    rps: float = Field(description="requests/s over the whole run (locust 'Requests/s')")
    failures_per_s: float
    avg_content_bytes: float = 0.0
    histogram: dict[int, int] | None = Field(
        default=None,
        description="final bucketed response times {ms: count} from locust --json-file",
    )

    @property
    def key(self) -> str:
        return f"{self.method} {self.name}".strip()

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    def percentile_points(self) -> list[tuple[float, float]]:
        """(value_ms, fraction) points of this endpoint's distribution, min and max included."""
        points = [(self.min_ms, 0.0)]
        points += [(v, float(k) / 100) for k, v in self.percentiles_ms.items() if float(k) < 100]
        points.append((self.max_ms, 1.0))
        return points


class TimePoint(_Model):
    """One row of the aggregated stats history (locust writes one a second)."""

    timestamp: AwareDatetime
    users: int
    rps: float = Field(description="requests in this interval / interval length (exact)")
    failures_per_s: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    requests_total: int
    failures_total: int


class FailureRecord(_Model):
    method: str
    name: str
    error: str
    occurrences: int
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None


class ExceptionRecord(_Model):
    """An exception raised inside the locustfile: a harness error, not a service failure."""

    count: int
    message: str
    traceback: str = ""
    nodes: str = ""


class Sample(_Model):
    timestamp: AwareDatetime
    value: float
    ok: bool = True
    labels: dict[str, str] = Field(default_factory=dict)


class SampleRecord(Sample):
    """A line of `samples.jsonl`: a sample plus the metric it belongs to."""

    metric: str
    unit: str = "ms"


class MetricSummary(_Model):
    count: int
    failed: int
    refused: int = 0
    """Samples labelled `outcome=refused`: answered with a refusal (e.g. the planner found the
    trip infeasible as asked) — neither a success nor a service failure, counted apart."""
    mean: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None


class CustomMetric(_Model):
    """A metric locust does not know: e.g. `ai_generation` end-to-end times (ms, one sample per
    generation, `ok=False` when it failed or timed out — its value is then the time waited) or
    `cache_hit_ratio` (a fraction per sampling interval)."""

    name: str
    unit: str = "ms"
    samples: list[Sample] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> MetricSummary:
        values = [s.value for s in self.samples]
        refused = sum(1 for s in self.samples if s.labels.get("outcome") == REFUSED)
        if not values:
            return MetricSummary(
                count=0,
                failed=0,
                mean=None,
                min=None,
                max=None,
                p50=None,
                p90=None,
                p95=None,
                p99=None,
            )
        return MetricSummary(
            count=len(values),
            failed=sum(1 for s in self.samples if not s.ok and s.labels.get("outcome") != REFUSED),
            refused=refused,
            mean=sum(values) / len(values),
            min=min(values),
            max=max(values),
            p50=quantiles.percentile(values, 0.50),
            p90=quantiles.percentile(values, 0.90),
            p95=quantiles.percentile(values, 0.95),
            p99=quantiles.percentile(values, 0.99),
        )


class ProbeResult(_Model):
    """One request of the steady prober (`scenarios.load.probe`)."""

    timestamp: AwareDatetime
    target: str
    url: str = ""
    ok: bool
    status: int | None = None
    latency_ms: float
    error: str | None = None


class ChaosEvent(_Model):
    """A fault injected during the run (issue 8): `started_at` when it was injected, `ended_at`
    when the injection was lifted (rollback), `recovered_at` when the steady state held again —
    None means it had not recovered when the run ended (the judge fails recovery for it)."""

    name: str
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    recovered_at: AwareDatetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> ChaosEvent:
        for field in ("ended_at", "recovered_at"):
            value = getattr(self, field)
            if value is not None and value < self.started_at:
                raise ValueError(f"{field} ({value}) is before started_at ({self.started_at})")
        return self

    @property
    def recovery_s(self) -> float | None:
        if self.recovered_at is None:
            return None
        return (self.recovered_at - self.started_at).total_seconds()

    def window(self, run_end: datetime) -> tuple[datetime, datetime]:
        """The span counted as 'during chaos': from injection until it recovered or the
        injection was lifted, whichever is later; to the run's end if it never recovered."""
        if self.recovered_at is None:
            return self.started_at, max(run_end, self.started_at)
        return self.started_at, max(self.recovered_at, self.ended_at or self.recovered_at)


class ServiceUsage(_Model):
    """What one service's replicas consumed during the run (calibrates the capacity model)."""

    cpu_seconds: float = Field(ge=0, description="user + system CPU of all its replicas")
    replicas: int = Field(ge=0)
    max_rss_mb: float | None = None


class Machine(_Model):
    cores: int
    hostname: str
    system: str

    @classmethod
    def current(cls) -> Machine:
        return cls(
            cores=os.cpu_count() or 1,
            hostname=socket.gethostname(),
            system=f"{_platform.system()} {_platform.release()} ({_platform.machine()})",
        )


class LoadResults(_Model):
    """The results of one load run (see the module docstring for the folder around it)."""

    schema_version: Literal[1] = 1
    profile: str
    platform: str
    host: str | None = Field(default=None, description="base URL the load was driven against")
    users: int = Field(ge=0)
    spawn_rate: float | None = None
    duration_s: float = Field(description="requested run time")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    replicas: dict[str, int] = Field(default_factory=dict, description="replicas per service")
    machine: Machine = Field(default_factory=Machine.current)
    load_generator_processes: int = 1
    endpoints: list[EndpointStats] = Field(default_factory=list)
    totals: EndpointStats
    timeseries: list[TimePoint] = Field(default_factory=list)
    timeseries_percentiles: Literal["rolling_10s", "cumulative"] = Field(
        default="rolling_10s",
        description="locust writes p50/p95 over its last 10 s with --csv-full-history, "
        "else cumulative since start",
    )
    failures: list[FailureRecord] = Field(default_factory=list)
    exceptions: list[ExceptionRecord] = Field(default_factory=list)
    custom_metrics: dict[str, CustomMetric] = Field(default_factory=dict)
    probes: list[ProbeResult] = Field(default_factory=list)
    resource_usage: dict[str, ServiceUsage] = Field(
        default_factory=dict, description="per service, measured over the run where possible"
    )
    chaos_events: list[ChaosEvent] = Field(default_factory=list)
    artifacts: dict[str, str] = Field(
        default_factory=dict, description="files kept beside the JSON, relative to its folder"
    )
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> LoadResults:
        if self.ended_at < self.started_at:
            raise ValueError(f"ended_at ({self.ended_at}) is before started_at ({self.started_at})")
        return self

    @property
    def actual_duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def production_scale(self) -> bool:
        return self.platform in PRODUCTION_PLATFORMS

    # -- reading and writing -------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> LoadResults:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        # Readers (report, capacity) may open the file while a chaos event is being recorded:
        # replace atomically so they never see half a JSON.
        tmp.replace(path)
        return path

    # -- merging what other processes recorded ------------------------------------------

    def add_samples(self, records: Iterable[SampleRecord]) -> None:
        """Merge custom-metric samples (e.g. `ai_generation` timings from the locustfile)."""
        for record in records:
            metric = self.custom_metrics.get(record.metric)
            if metric is None:
                metric = self.custom_metrics[record.metric] = CustomMetric(
                    name=record.metric, unit=record.unit
                )
            elif metric.unit != record.unit:
                raise ValueError(
                    f"metric {record.metric!r} recorded in {record.unit!r} and {metric.unit!r}"
                )
            metric.samples.append(
                Sample(
                    timestamp=record.timestamp,
                    value=record.value,
                    ok=record.ok,
                    labels=record.labels,
                )
            )
        for metric in self.custom_metrics.values():
            metric.samples.sort(key=lambda s: s.timestamp)

    def add_probes(self, probes: Iterable[ProbeResult]) -> None:
        self.probes.extend(probes)
        self.probes.sort(key=lambda p: p.timestamp)

    def add_chaos_events(self, events: Iterable[ChaosEvent]) -> None:
        self.chaos_events.extend(events)
        self.chaos_events.sort(key=lambda e: e.started_at)


def record_chaos_event(results_path: Path, event: ChaosEvent) -> LoadResults:
    """Add a chaos event to an existing results JSON (for events known only after the run)."""
    results = LoadResults.load(results_path)
    results.add_chaos_events([event])
    results.save(results_path)
    return results


def aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (locust and time.time() are UTC epoch based)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""What the deployment spent during a load run: CPU per service and the cache hit ratio.

`UsageMeter` runs beside the load in a background thread and, every `interval_s`:

* reads the CPU time (utime + stime, `/proc/<pid>/stat`) of every replica's process tree and of
  PostgreSQL, Redis and nginx — the pids come from `platform.status()`, re-read each round so a
  replica restarted by chaos is followed. A process contributes what it used while observed:
  `resource_usage[service].cpu_seconds` is the sum over its replicas, which is what the capacity
  model (`simulation.capacity`) divides by the service's requests. `max_rss_mb` is the largest
  resident memory one replica's process tree had at a sample, as PSS (a shared page is split
  between the processes sharing it; RSS where smaps_rollup cannot be read).
* scrapes `/metrics` of every replica (direct replica URLs, `Endpoints.replicas`) and records
  the interval's `cache_hit_ratio` = Δcache_hits_total / (Δhits + Δcache_misses_total), summed
  over all replicas and cache patterns, as a custom sample (unit "ratio") for the SLA judge.

Where the platform gives no pids (kind, AKS: pods) or no replica URLs, that part is skipped and
the report's notes say so; nothing is guessed.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from runs.results import LoadResults, SampleRecord, ServiceUsage
from scenarios.load.samples import SampleRecorder
from simulation.platforms.base import DeploymentStatus, Endpoints, Platform, PlatformError

log = logging.getLogger(__name__)

CACHE_METRIC = "cache_hit_ratio"
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
DEPENDENCIES = ("postgresql", "redis", "nginx")


# -- /proc -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    cpu_s: float  # utime + stime + cutime + cstime (reaped children count once, in their parent)
    rss_mb: float


def read_stat(pid: int, proc: Path = Path("/proc")) -> ProcStat | None:
    """One process's CPU and RSS, or None when it is gone (or not readable)."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text.rsplit(")", 1)[-1].split()
    try:
        ppid = int(fields[1])
        ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        rss_pages = int(fields[21])
    except (IndexError, ValueError):
        return None
    return ProcStat(pid, ppid, ticks / _TICKS_PER_S, rss_pages * _PAGE_KIB / 1024)


def read_pss_mb(pid: int, proc: Path = Path("/proc")) -> float | None:
    """Proportional set size: resident pages, each shared page split between its sharers, so
    a tree's sum (PostgreSQL's backends over shared_buffers) is not counted many times over."""
    try:
        text = (proc / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return None


def process_table(proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    table: dict[int, ProcStat] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name), proc)
            if stat is not None:
                table[stat.pid] = stat
    return table


def tree_of(root: int, table: Mapping[int, ProcStat]) -> list[ProcStat]:
    """`root` and its live descendants (uvicorn workers, PostgreSQL backends, nginx workers)."""
    if root not in table:
        return []
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: list[ProcStat] = []
    frontier = [root]
    while frontier and len(found) < len(table):  # bounded by the table's size
        pid = frontier.pop()
        found.append(table[pid])
        frontier.extend(children.get(pid, ()))
    return found


# -- CPU ---------------------------------------------------------------------------------------


@dataclass
class _Tracked:
    service: str
    first_cpu_s: float
    last_cpu_s: float
    peak_rss_mb: float


@dataclass
class CpuLedger:
    """CPU used per service between the first and the last time each process was seen, and
    the largest memory (PSS) of one replica's process tree at a sample."""

    proc: Path = Path("/proc")
    _by_pid: dict[int, _Tracked] = field(default_factory=dict)
    replicas: dict[str, set[str]] = field(default_factory=dict)

    def observe(self, roots: Iterable[tuple[str, str, int]], table: Mapping[int, ProcStat]) -> None:
        """`roots`: (service, replica name, root pid) seen at this moment."""
        for service, replica, pid in roots:
            tree = tree_of(pid, table)
            if not tree:
                continue
            cpu = sum(s.cpu_s for s in tree)
            rss = sum(read_pss_mb(s.pid, self.proc) or s.rss_mb for s in tree)
            self.replicas.setdefault(service, set()).add(replica)
            tracked = self._by_pid.get(pid)
            if tracked is None or tracked.service != service:
                self._by_pid[pid] = _Tracked(service, cpu, cpu, rss)
            else:
                # A tree loses the CPU of a live child that exits unreaped; never go backwards.
                tracked.last_cpu_s = max(tracked.last_cpu_s, cpu)
                tracked.peak_rss_mb = max(tracked.peak_rss_mb, rss)

    def usage(self) -> dict[str, ServiceUsage]:
        cpu: dict[str, float] = {}
        rss: dict[str, float] = {}
        for tracked in self._by_pid.values():
            cpu[tracked.service] = cpu.get(tracked.service, 0.0) + (
                tracked.last_cpu_s - tracked.first_cpu_s
            )
            rss[tracked.service] = max(rss.get(tracked.service, 0.0), tracked.peak_rss_mb)
        return {
            service: ServiceUsage(
                cpu_seconds=round(cpu[service], 3),
                replicas=len(self.replicas.get(service, ())),
                max_rss_mb=round(rss[service], 1),
            )
            for service in sorted(cpu)
        }


def process_class(name: str) -> str:
    """The class a metered process is reported under: PostgreSQL's nodes and its monitor →
    `postgresql`, Redis nodes and Sentinels → `redis`, Prometheus and every exporter →
    `monitoring`; services, nginx and anything else keep their own name."""
    if name == "prometheus" or "exporter" in name:
        return "monitoring"
    if name.startswith(("pg-", "postgres")):
        return "postgresql"
    if name.startswith(("redis", "sentinel")):
        return "redis"
    return name


def cpu_by_class(cpu_seconds: Mapping[str, float]) -> dict[str, float]:
    """Per-process CPU-seconds summed per `process_class`."""
    classes: dict[str, float] = {}
    for name, seconds in cpu_seconds.items():
        key = process_class(name)
        classes[key] = round(classes.get(key, 0.0) + seconds, 3)
    return classes


class TreeCpu:
    """CPU-seconds of fixed process trees between `start()` and `stop()` (e.g. the benchmark's
    baseline replicas and its nginx, which no platform status lists)."""

    def __init__(self, roots: Sequence[tuple[str, str, int]], proc: Path = Path("/proc")) -> None:
        self.roots = list(roots)
        self.ledger = CpuLedger(proc)
        self.proc = proc

    def start(self) -> TreeCpu:
        self.ledger.observe(self.roots, process_table(self.proc))
        return self

    def stop(self) -> dict[str, float]:
        self.ledger.observe(self.roots, process_table(self.proc))
        return {name: usage.cpu_seconds for name, usage in self.ledger.usage().items()}


def self_cpu_s() -> float:
    """CPU-seconds of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_s() -> float:
    """CPU-seconds of this process's waited-for children and their descendants (a locust run,
    its worker processes included, once it has been reaped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def roots_of(status: DeploymentStatus) -> list[tuple[str, str, int]]:
    """(service, replica, pid) of every replica and dependency that has a local pid."""
    roots = [(r.service, r.replica, r.pid) for r in status.replicas if r.pid]
    roots += [(d.name, d.name, d.pid) for d in status.dependencies if d.pid]
    return roots


# -- cache -------------------------------------------------------------------------------------


def cache_counts(metrics_text: str) -> tuple[float, float]:
    """(hits, misses) summed over layers and patterns from one Prometheus exposition."""
    hits = misses = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "cache_hits_total":
                hits += sample.value
            elif sample.name == "cache_misses_total":
                misses += sample.value
    return hits, misses


def _increase(previous: float | None, current: float) -> float:
    """A counter's increase; a restarted replica starts again from zero (a reset)."""
    if previous is None:
        return 0.0
    return current if current < previous else current - previous


@dataclass
class CacheLedger:
    """Per-replica counters between scrapes → one hit ratio per interval."""

    _last: dict[str, tuple[float, float]] = field(default_factory=dict)
    hits: float = 0.0
    lookups: float = 0.0

    def interval(self, scraped: Mapping[str, tuple[float, float]]) -> tuple[float, float]:
        """(hits, lookups) since the previous scrape, over the replicas scraped both times."""
        hits = lookups = 0.0
        for url, (h, m) in scraped.items():
            before = self._last.get(url)
            dh = _increase(before[0] if before else None, h)
            dm = _increase(before[1] if before else None, m)
            hits += dh
            lookups += dh + dm
            self._last[url] = (h, m)
        self.hits += hits
        self.lookups += lookups
        return hits, lookups


def scrape(client: httpx.Client, urls: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Counters of every replica that answered (a replica down this round is skipped)."""
    scraped: dict[str, tuple[float, float]] = {}
    for url in urls:
        try:
            response = client.get(f"{url.rstrip('/')}/metrics")
            response.raise_for_status()
            scraped[url] = cache_counts(response.text)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("metrics of %s not read: %s", url, exc)
    return scraped


# -- the meter ---------------------------------------------------------------------------------


@dataclass
class UsageReport:
    resource_usage: dict[str, ServiceUsage]
    cache_samples: list[SampleRecord]
    notes: list[str]


class UsageMeter:
    """CPU and cache sampling for the span of one run, in a background thread."""

    def __init__(
        self,
        platform: Platform,
        endpoints: Endpoints,
        samples_path: Path,
        *,
        interval_s: float = 5.0,
        max_duration_s: float = 24 * 3600,
        proc: Path = Path("/proc"),
    ) -> None:
        self.platform = platform
        self.replica_urls = [u for urls in endpoints.replicas.values() for u in urls]
        self.recorder = SampleRecorder(samples_path)
        self.interval_s = interval_s
        self.max_duration_s = max_duration_s
        self.proc = proc
        self.cpu = CpuLedger(proc)
        self.cache = CacheLedger()
        self.cache_samples: list[SampleRecord] = []
        self.notes: list[str] = []
        self.pids_seen = False
        self.own_cpu_s = 0.0  # the meter's own sampling, so a caller can tell it from its work
        self._known: list[tuple[str, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usage-meter", daemon=True)
        self._http = httpx.Client(timeout=httpx.Timeout(2.0))

    def start(self) -> UsageMeter:
        self._sample(record_cache=False, refresh=True)  # the baseline, before any load
        self._thread.start()
        return self

    def stop(self) -> UsageReport:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 30)
        self._sample(record_cache=True, refresh=True)  # the tail of the run
        self._http.close()
        usage = self.cpu.usage()
        notes = list(self.notes)
        if not self.pids_seen:
            notes.append(
                f"resource usage not measured: platform '{self.platform.name}' gives no process "
                "ids (pods); read CPU per pod from metrics-server instead"
            )
        if not self.replica_urls:
            notes.append(
                f"cache hit ratio not sampled: platform '{self.platform.name}' exposes no "
                "direct replica URLs to scrape /metrics from"
            )
        elif self.cache.lookups:
            notes.append(
                f"cache over the run: {self.cache.hits:,.0f} hits of {self.cache.lookups:,.0f} "
                f"lookups ({self.cache.hits / self.cache.lookups:.1%}), all replicas and patterns"
            )
        return UsageReport(usage, list(self.cache_samples), notes)

    def _run(self) -> None:
        began = time.monotonic()
        # Bounded twice: by stop() and by max_duration_s should a caller never stop it.
        while not self._stop.wait(self.interval_s):
            if time.monotonic() - began > self.max_duration_s:
                self.notes.append(f"usage sampling stopped after {self.max_duration_s:.0f} s")
                return
            try:
                self._sample(record_cache=True)
            except Exception as exc:  # a sampling hiccup must not end the measurement
                log.warning("usage sample failed: %s", exc)

    def _roots(self, table: Mapping[int, ProcStat], *, refresh: bool) -> list[tuple[str, str, int]]:
        """The pids to follow. `status()` asks every replica's readiness (slow under load), so
        it is re-read only at the ends of the run and when a followed process has gone."""
        gone = any(pid not in table for _, _, pid in self._known)
        if refresh or gone or not self._known:
            try:
                self._known = roots_of(self.platform.status())
            except PlatformError as exc:
                log.warning("platform status not read: %s", exc)
        return self._known

    def _sample(self, *, record_cache: bool, refresh: bool = False) -> None:
        started = time.thread_time()  # this thread's CPU: samples run in two threads
        try:
            self._read(record_cache=record_cache, refresh=refresh)
        finally:
            self.own_cpu_s += time.thread_time() - started

    def _read(self, *, record_cache: bool, refresh: bool) -> None:
        table = process_table(self.proc)
        roots = self._roots(table, refresh=refresh)
        if roots:
            self.pids_seen = True
            self.cpu.observe(roots, table)
        if not self.replica_urls:
            return
        hits, lookups = self.cache.interval(scrape(self._http, self.replica_urls))
        if record_cache and lookups > 0:
            sample = self.recorder.record(
                CACHE_METRIC,
                hits / lookups,
                unit="ratio",
                labels={"hits": f"{hits:.0f}", "lookups": f"{lookups:.0f}"},
                timestamp=datetime.now(UTC),
            )
            self.cache_samples.append(sample)


def record_usage(results_path: Path, report: UsageReport) -> LoadResults:
    """Put the meter's figures into a saved results JSON (the run's cache samples replace any
    `cache_hit_ratio` samples already merged, since the meter's list also holds the last one)."""
    results = LoadResults.load(results_path)
    results.resource_usage = dict(report.resource_usage)
    results.custom_metrics.pop(CACHE_METRIC, None)
    results.add_samples(report.cache_samples)
    results.notes.extend(report.notes)
    results.save(results_path)
    return results


# -- the whole machine -------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineCpu:
    """/proc/stat's aggregate line: CPU-seconds busy, stolen by the hypervisor, and in all."""

    busy_s: float
    steal_s: float
    total_s: float

    @classmethod
    def read(cls, proc: Path = Path("/proc")) -> MachineCpu:
        fields = (proc / "stat").read_text().splitlines()[0].split()[1:]
        ticks = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
        idle = ticks[3] + ticks[4]
        return cls(
            busy_s=(sum(ticks) - idle - ticks[7]) / _TICKS_PER_S,
            steal_s=ticks[7] / _TICKS_PER_S,
            total_s=sum(ticks) / _TICKS_PER_S,
        )

    def since(self, earlier: MachineCpu) -> dict[str, float]:
        """Shares of the machine's CPU time over the span: busy and stolen (0..1)."""
        total = max(self.total_s - earlier.total_s, 1e-9)
        return {
            "busy": round((self.busy_s - earlier.busy_s) / total, 3),
            "steal": round((self.steal_s - earlier.steal_s) / total, 3),
        }

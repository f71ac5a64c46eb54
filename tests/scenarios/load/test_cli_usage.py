"""What a load run measures beside locust (`scenarios.load.usage`): CPU per service from /proc, the
cache hit ratio from the replicas' /metrics, and how both land in the results JSON."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from runs.results import LoadResults
from scenarios.load.usage import (
    CACHE_METRIC,
    CacheLedger,
    CpuLedger,
    MachineCpu,
    ProcStat,
    UsageMeter,
    cache_counts,
    read_stat,
    record_usage,
    tree_of,
)
from simulation.platforms.base import (
    DependencyStatus,
    DeploymentStatus,
    Endpoints,
    PlatformError,
    ReplicaStatus,
)
from tests.scenarios.helpers import MakeResults, ServerThread

TICKS = os.sysconf("SC_CLK_TCK")

METRICS = """# HELP cache_hits_total Cache hits
# TYPE cache_hits_total counter
cache_hits_total{{layer="l1",pattern="location"}} {l1}
cache_hits_total{{layer="l2",pattern="session"}} {l2}
# HELP cache_misses_total Cache misses (both layers)
# TYPE cache_misses_total counter
cache_misses_total{{pattern="location"}} {misses}
# HELP cache_hit_ratio Cache hits / lookups since start
# TYPE cache_hit_ratio gauge
cache_hit_ratio 0.5
"""


def fake_proc(root: Path, pid: int, ppid: int, ticks: int, rss_pages: int = 256) -> None:
    """/proc/<pid>/stat with utime = ticks (the rest zero); the name holds ') (' on purpose."""
    folder = root / str(pid)
    folder.mkdir(parents=True, exist_ok=True)
    fields = ["S", str(ppid)] + ["0"] * 9 + [str(ticks), "0", "0", "0"] + ["0"] * 6
    fields += [str(rss_pages)]
    (folder / "stat").write_text(f"{pid} (python -m x) (y) " + " ".join(fields) + "\n")


def test_stat_parsing_survives_odd_process_names(tmp_path: Path) -> None:
    fake_proc(tmp_path, 41, 1, ticks=3 * TICKS, rss_pages=512)
    stat = read_stat(41, tmp_path)
    assert stat is not None
    assert (stat.ppid, stat.cpu_s) == (1, pytest.approx(3.0))
    assert stat.rss_mb == pytest.approx(512 * os.sysconf("SC_PAGE_SIZE") / 2**20)
    assert read_stat(42, tmp_path) is None  # gone


def test_real_process_is_readable() -> None:
    stat = read_stat(os.getpid())
    assert stat is not None and stat.cpu_s > 0 and stat.rss_mb > 0


def test_a_tree_is_its_root_and_descendants() -> None:
    table = {
        p: ProcStat(p, parent, 1.0, 1.0)
        for p, parent in {10: 1, 11: 10, 12: 11, 13: 1, 14: 10}.items()
    }
    assert sorted(s.pid for s in tree_of(10, table)) == [10, 11, 12, 14]
    assert tree_of(99, table) == []


def test_cpu_is_what_each_process_used_while_observed(tmp_path: Path) -> None:
    ledger = CpuLedger(tmp_path)

    def observe(table: dict[int, ProcStat]) -> None:
        ledger.observe([("user", "user-1", 100), ("user", "user-2", 200)], table)

    observe({100: ProcStat(100, 1, 50.0, 80), 200: ProcStat(200, 1, 10.0, 90)})
    # user-1 is killed and restarted as pid 300 (a chaos kill); user-2 works on.
    observe({200: ProcStat(200, 1, 14.0, 95)})
    ledger.observe([("user", "user-1", 300)], {300: ProcStat(300, 1, 1.0, 60)})
    ledger.observe(
        [("user", "user-1", 300), ("user", "user-2", 200)],
        {300: ProcStat(300, 1, 3.5, 70), 200: ProcStat(200, 1, 15.0, 95)},
    )
    usage = ledger.usage()["user"]
    assert usage.cpu_seconds == pytest.approx(5.0 + 2.5)  # user-1's old pid ran 0 s observed
    assert usage.replicas == 2
    assert usage.max_rss_mb == pytest.approx(95)


def test_cache_ratio_per_interval_follows_counter_resets() -> None:
    ledger = CacheLedger()
    assert ledger.interval({"a": (100.0, 10.0), "b": (50.0, 50.0)}) == (0.0, 0.0)  # baseline
    assert ledger.interval({"a": (190.0, 20.0), "b": (60.0, 60.0)}) == (100.0, 120.0)
    # b restarted: its counters start again from zero; a did not answer this round.
    assert ledger.interval({"b": (5.0, 1.0)}) == (5.0, 6.0)
    assert (ledger.hits, ledger.lookups) == (105.0, 126.0)


def test_cache_counts_sum_layers_and_patterns() -> None:
    assert cache_counts(METRICS.format(l1=7, l2=3, misses=5)) == (10.0, 5.0)
    assert cache_counts("") == (0.0, 0.0)


def test_machine_cpu_shares(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text(f"cpu  {TICKS} 0 {TICKS} {8 * TICKS} 0 0 0 0 0 0\n")
    before = MachineCpu.read(tmp_path)
    (tmp_path / "stat").write_text(f"cpu  {4 * TICKS} 0 {TICKS} {10 * TICKS} 0 0 0 {TICKS} 0 0\n")
    assert MachineCpu.read(tmp_path).since(before) == {"busy": 0.5, "steal": 0.167}
    assert MachineCpu.read().total_s > 0


class FakePlatform:
    """A platform whose only replica is this test process, and status can fail on demand."""

    name = "local"

    def __init__(self) -> None:
        self.fail = False

    def status(self) -> DeploymentStatus:
        if self.fail:
            raise PlatformError("supervisor gone")
        pid = os.getpid()
        return DeploymentStatus(
            platform="local",
            profile="prod",
            base_url="http://127.0.0.1:9",
            replicas=[ReplicaStatus("location", "location-1", "zone-1", pid, "RUNNING", True)],
            dependencies=[DependencyStatus("redis", "127.0.0.1:1", "RUNNING", None)],
        )


def metrics_app() -> FastAPI:
    """/metrics whose counters grow by 9 hits and 1 miss per scrape: a 90% hit ratio."""
    app = FastAPI()
    scrapes = {"n": 0}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        scrapes["n"] += 1
        n = scrapes["n"]
        return METRICS.format(l1=6 * n, l2=3 * n, misses=n)

    return app


def test_meter_samples_cpu_and_cache_then_fills_the_results(
    tmp_path: Path, make_results: MakeResults
) -> None:
    server = ServerThread(metrics_app()).start()
    try:
        platform = FakePlatform()
        endpoints = Endpoints(
            base_url="http://127.0.0.1:9",
            services={"location": "http://127.0.0.1:9"},
            replicas={"location": [server.url]},
        )
        meter = UsageMeter(platform, endpoints, tmp_path / "samples.jsonl", interval_s=0.2)  # type: ignore[arg-type]
        process_began = time.process_time()
        meter.start()
        burn_began = time.thread_time()
        while time.thread_time() - burn_began < 0.3:  # burn some CPU to be measured
            sum(range(10_000))
        burnt_s = time.thread_time() - burn_began
        time.sleep(0.5)
        report = meter.stop()
        process_s = time.process_time() - process_began
    finally:
        server.stop()
    assert report.resource_usage["location"].cpu_seconds > 0.2
    assert report.resource_usage["location"].replicas == 1
    # The meter's own sampling is counted apart (the CPU of the threads that sampled), never the
    # CPU this test's thread burnt: the process's CPU holds both, so the two cannot overlap. A
    # fixed bound would not do: on a slow machine the sampling alone can take 0.3 s.
    assert 0.0 < meter.own_cpu_s <= process_s - burnt_s + 0.01
    assert len(report.cache_samples) >= 2
    assert all(s.value == pytest.approx(0.9) for s in report.cache_samples)
    assert all(s.unit == "ratio" for s in report.cache_samples)
    assert (tmp_path / "samples.jsonl").read_text().count(CACHE_METRIC) == len(report.cache_samples)
    assert any("cache over the run" in note for note in report.notes)

    results_path = make_results().save(tmp_path / "results.json")
    saved = record_usage(results_path, report)
    assert LoadResults.load(results_path) == saved
    assert saved.resource_usage["location"].cpu_seconds > 0.2
    assert saved.custom_metrics[CACHE_METRIC].summary.count == len(report.cache_samples)


def test_meter_on_a_platform_without_pids_or_replica_urls_says_so(tmp_path: Path) -> None:
    platform = FakePlatform()
    platform.fail = True  # e.g. kind: no local pids to read
    endpoints = Endpoints(base_url="http://127.0.0.1:9", services={})
    meter = UsageMeter(platform, endpoints, tmp_path / "samples.jsonl", interval_s=0.1)  # type: ignore[arg-type]
    meter.start()
    time.sleep(0.25)
    report = meter.stop()
    assert report.resource_usage == {} and report.cache_samples == []
    assert any("resource usage not measured" in n for n in report.notes)
    assert any("cache hit ratio not sampled" in n for n in report.notes)

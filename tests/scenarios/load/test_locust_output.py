"""The results builder against locust's real output: one headless run of the tiny app (5 users,
5 s) and a locust-computed stats table compared row by row with our reading of locust's JSON."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from runs import quantiles
from runs.results import LoadResults
from scenarios.load import locust_csv

ENDPOINTS = {"/api/locations/places", "/api/trips/flaky", "/api/ai/schedules"}


def test_run_folder_keeps_locust_output_beside_results(locust_run: Path) -> None:
    results = LoadResults.load(locust_run)
    folder = locust_run.parent
    for name in results.artifacts.values():
        assert (folder / name).is_file(), name
    assert {"stats_csv", "stats_history_csv", "failures_csv", "locust_json", "locust_html"} <= set(
        results.artifacts
    )
    assert {"samples", "probes", "locust_log"} <= set(results.artifacts)


def test_locust_headers_are_the_columns_the_readers_expect(locust_run: Path) -> None:
    folder = locust_run.parent

    def header(name: str) -> list[str]:
        with (folder / name).open(newline="") as handle:
            return next(csv.reader(handle))

    stats = header("locust_stats.csv")
    assert stats[: len(locust_csv.STATS_COLUMNS)] == list(locust_csv.STATS_COLUMNS)
    assert {"50%", "90%", "95%", "99%", "100%"} <= set(stats)
    assert set(locust_csv.HISTORY_COLUMNS) <= set(header("locust_stats_history.csv"))
    assert header("locust_failures.csv") == list(locust_csv.FAILURES_COLUMNS)
    assert header("locust_exceptions.csv") == list(locust_csv.EXCEPTIONS_COLUMNS)


def test_run_metadata(locust_run: Path) -> None:
    results = LoadResults.load(locust_run)
    assert (results.profile, results.platform, results.users) == ("dev", "local", 5)
    assert results.host is not None
    assert results.host.startswith("http://127.0.0.1:")
    assert results.replicas == {"location": 1, "trip": 1, "ai": 1, "user": 1}
    assert 3 <= results.actual_duration_s <= 12
    assert results.machine.cores >= 1
    assert not results.exceptions, results.exceptions


def test_endpoint_stats_are_final_and_consistent(locust_run: Path) -> None:
    results = LoadResults.load(locust_run)
    assert {e.name for e in results.endpoints} == ENDPOINTS
    assert results.totals.name == "Aggregated"
    assert results.totals.requests == sum(e.requests for e in results.endpoints)
    assert results.totals.failures == sum(e.failures for e in results.endpoints)
    for entry in results.endpoints:
        assert entry.requests > 0
        assert entry.histogram is not None
        assert sum(entry.histogram.values()) == entry.requests
        assert entry.min_ms <= (entry.p50_ms or 0) <= (entry.p95_ms or 0) <= entry.max_ms + 1
    merged = quantiles.merge_histograms([e.histogram or {} for e in results.endpoints])
    assert results.totals.p95_ms == quantiles.histogram_percentile(merged, 0.95)
    # The CSV is rewritten once a second and lags; the final numbers are never below it.
    _, csv_totals = locust_csv.read_stats(locust_run.parent / "locust_stats.csv")
    assert results.totals.requests >= csv_totals["requests"]
    assert abs(results.totals.rps - csv_totals["rps"]) <= 0.3 * csv_totals["rps"]


def test_failures_are_recorded(locust_run: Path) -> None:
    results = LoadResults.load(locust_run)
    flaky = next(e for e in results.endpoints if e.name == "/api/trips/flaky")
    assert flaky.failures > 0
    assert all(e.failures == 0 for e in results.endpoints if e is not flaky)
    (record,) = results.failures
    assert (record.method, record.name) == ("GET", "/api/trips/flaky")
    assert "500" in record.error
    assert record.first_seen is not None
    assert record.first_seen <= results.ended_at


def test_per_second_series(locust_run: Path) -> None:
    results = LoadResults.load(locust_run)
    series = results.timeseries
    assert len(series) >= 3
    assert results.timeseries_percentiles == "rolling_10s"
    stamps = [p.timestamp for p in series]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    totals = [p.requests_total for p in series]
    assert totals == sorted(totals)
    assert totals[-1] <= results.totals.requests
    assert all(p.rps >= 0 and p.failures_per_s >= 0 for p in series)
    assert max(p.users for p in series) == 5
    assert any(p.rps > 0 for p in series)
    assert any(p.p95_ms is not None for p in series)


def test_custom_samples_and_probes_are_merged(locust_run: Path) -> None:
    results = LoadResults.load(locust_run)
    ai = results.custom_metrics["ai_generation"]
    posts = next(e for e in results.endpoints if e.name == "/api/ai/schedules")
    # One sample per generation; a user stopped mid-task may leave one request unsampled.
    assert abs(ai.summary.count - posts.requests) <= 5
    assert ai.unit == "ms"
    assert ai.summary.failed == 0
    assert ai.summary.p95 is not None
    assert ai.summary.p95 >= 20
    ratio = results.custom_metrics["cache_hit_ratio"]
    assert ratio.unit == "ratio"
    assert all(0.8 <= s.value <= 1.0 for s in ratio.samples)
    assert len(results.probes) >= 3
    assert all(p.ok and p.status == 200 and p.target == "health" for p in results.probes)


def test_results_round_trip(locust_run: Path, tmp_path: Path) -> None:
    results = LoadResults.load(locust_run)
    copy = results.save(tmp_path / "copy.json")
    assert LoadResults.load(copy) == results


# Run in a subprocess: importing locust monkey-patches the process with gevent.
_LOCUST_TABLE = textwrap.dedent(
    """
    import csv, json, random, sys, types
    from locust.stats import PERCENTILES_TO_REPORT, RequestStats, StatsCSV

    random.seed(7)
    stats = RequestStats()
    for _ in range(700):
        stats.log_request("GET", "/a", random.expovariate(1 / 20), 100)
    for _ in range(300):
        stats.log_request("POST", "/b", random.expovariate(1 / 300) + 5, 40)
    for _ in range(31):
        stats.log_error("POST", "/b", "boom")
    stats.log_request("GET", "/one", 1234.5, 10)
    env = types.SimpleNamespace(stats=stats, runner=None)
    prefix = sys.argv[1]
    with open(prefix + "_stats.csv", "w", newline="") as handle:
        StatsCSV(env, PERCENTILES_TO_REPORT).requests_csv(csv.writer(handle))
    with open(prefix + ".json", "w") as handle:
        json.dump(stats.serialize_stats(), handle)
    """
)


def test_final_stats_match_locusts_own_formulas(tmp_path: Path) -> None:
    """Our reading of locust's JSON reproduces the stats locust itself writes to its CSV."""
    prefix = tmp_path / "table"
    script = tmp_path / "table.py"
    script.write_text(_LOCUST_TABLE)
    subprocess.run([sys.executable, str(script), str(prefix)], check=True, timeout=60)
    stats_path = Path(f"{prefix}_stats.csv")
    from_csv, csv_totals = locust_csv.read_stats(stats_path)
    final = locust_csv.read_final_stats(
        Path(f"{prefix}.json"), locust_csv.percentile_keys(stats_path)
    )
    assert final is not None
    from_json, json_totals = final
    assert [(r["method"], r["name"]) for r in from_json] == [
        (r["method"], r["name"]) for r in from_csv
    ]
    for ours, theirs in [*zip(from_json, from_csv, strict=True), (json_totals, csv_totals)]:
        for field in ("requests", "failures", "median_ms", "percentiles_ms", "p95_ms"):
            assert ours[field] == theirs[field], (ours["name"], field)
        for field in ("mean_ms", "min_ms", "max_ms", "avg_content_bytes"):
            assert abs(ours[field] - theirs[field]) < 1e-6, (ours["name"], field)
    # One 1,234.5 ms request: its bucket is 1,200, but locust clamps the median into [min, max].
    one = next(r for r in from_json if r["name"] == "/one")
    assert one["percentiles_ms"]["100"] == 1200
    assert one["median_ms"] == 1234.5
    assert json.loads(Path(f"{prefix}.json").read_text())  # the fixture really came from locust

"""The results model and builder on hand-written locust files: edge cases a 5 s run does not hit
(duplicate history seconds, cumulative percentiles, missing columns, no locust.json, side files,
truncated JSONL lines, chaos events recorded after the run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from runs.jsonl import JsonlError, append_jsonl, read_jsonl
from runs.results import (
    ChaosEvent,
    LoadResults,
    ProbeResult,
    SampleRecord,
    record_chaos_event,
)
from scenarios.load import locust_csv
from scenarios.load.collect import build_results
from scenarios.load.samples import SAMPLES_ENV, SampleRecorder, record_sample

PCT = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
STATS = f"""Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,{PCT}
GET,/a,100,0,10,12.5,1.5,80.25,20.0,10.0,0.0,10,11,12,13,20,30,50,70,80,80,80
POST,/b,50,5,100,110.0,50.0,400.0,5.0,5.0,0.5,100,110,120,130,200,300,350,390,400,400,400
GET,/empty,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,150,5,12,45.0,1.5,400.0,15.0,15.0,0.5,12,20,40,60,120,200,300,350,400,400,400
"""
HISTORY_HEADER = (
    f"Timestamp,User Count,Type,Name,Requests/s,Failures/s,{PCT},Total Request Count,"
    "Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)
NA = ",".join(["N/A"] * 11)


def _agg(second: int, users: int, p: str, requests: int, failures: int) -> str:
    return f"{second},{users},,Aggregated,0.0,0.0,{p},{requests},{failures},10,12.0,1,80,20.0"


def write_run(folder: Path, history_rows: list[str], *, per_endpoint_rows: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "locust"
    (folder / "locust_stats.csv").write_text(STATS)
    rows = list(history_rows)
    if per_endpoint_rows:
        rows.insert(1, f"1767268801,2,GET,/a,0.0,0.0,{NA},5,0,10,12.0,1,80,20.0")
    (folder / "locust_stats_history.csv").write_text("\n".join([HISTORY_HEADER, *rows]) + "\n")
    (folder / "locust_failures.csv").write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        "POST,/b,HTTPError('503'),5,2026-01-01T12:00:01Z,2026-01-01T12:00:03Z\n"
    )
    (folder / "locust_exceptions.csv").write_text(
        "Count,Message,Traceback,Nodes\n2,KeyError('id'),\"Traceback ...\",local\n"
    )
    return prefix


P_ZERO = ",".join(["0"] * 11)
P_REAL = "10,11,12,13,20,30,50,70,80,80,80"
HISTORY = [
    _agg(1767268800, 0, NA, 0, 0),
    _agg(1767268801, 2, P_ZERO, 40, 0),  # locust's 10 s window still empty → 0 → unknown
    _agg(1767268802, 2, P_REAL, 100, 2),
    _agg(1767268802, 2, P_REAL, 110, 2),  # a second write within the same second
    _agg(1767268804, 2, P_REAL, 150, 5),  # a skipped second: rate over 2 s
]


def test_history_is_differenced_into_exact_rates(tmp_path: Path) -> None:
    prefix = write_run(tmp_path, HISTORY)
    points, window = locust_csv.read_history(Path(f"{prefix}_stats_history.csv"))
    assert window == "rolling_10s"
    assert [p["requests_total"] for p in points] == [0, 40, 110, 150]
    assert [p["rps"] for p in points] == [0.0, 40.0, 70.0, 20.0]
    assert [p["failures_per_s"] for p in points] == [0.0, 0.0, 2.0, 1.5]
    assert [p["p95_ms"] for p in points] == [None, None, 30.0, 30.0]
    assert points[0]["timestamp"] == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_history_without_per_endpoint_rows_has_cumulative_percentiles(tmp_path: Path) -> None:
    prefix = write_run(tmp_path, HISTORY, per_endpoint_rows=False)
    _, window = locust_csv.read_history(Path(f"{prefix}_stats_history.csv"))
    assert window == "cumulative"


def test_build_from_csv_alone(tmp_path: Path) -> None:
    prefix = write_run(tmp_path, HISTORY)
    results = build_results(prefix, profile="prod", platform="local", users=2, duration_s=4)
    assert [e.name for e in results.endpoints] == ["/a", "/b", "/empty"]
    empty = results.endpoints[2]
    assert empty.p95_ms is None
    assert empty.percentiles_ms == {}
    b = results.endpoints[1]
    assert (b.requests, b.failures, b.p90_ms, b.p99_ms, b.histogram) == (50, 5, 200, 390, None)
    assert results.totals.requests == 150
    assert results.totals.p95_ms == 200
    # Run bounds default to the history's first and last rows.
    assert results.started_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert results.actual_duration_s == 4
    (failure,) = results.failures
    assert failure.occurrences == 5
    assert failure.last_seen == datetime(2026, 1, 1, 12, 0, 3, tzinfo=UTC)
    (exception,) = results.exceptions
    assert exception.count == 2
    assert "KeyError" in exception.message
    assert results.notes == []
    assert "locust_json" not in results.artifacts
    assert not results.custom_metrics
    assert not results.probes
    assert not results.chaos_events


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "x_stats.csv"
    path.write_text("Type,Name,Request Count\nGET,/a,1\n")
    with pytest.raises(locust_csv.LocustOutputError, match=r"x_stats\.csv: missing column\(s\) "):
        locust_csv.read_stats(path)
    with pytest.raises(locust_csv.LocustOutputError, match="not found"):
        locust_csv.read_stats(tmp_path / "absent_stats.csv")


def test_unreadable_row_names_the_line(tmp_path: Path) -> None:
    prefix = write_run(tmp_path, HISTORY)
    path = Path(f"{prefix}_stats.csv")
    path.write_text(STATS.replace("GET,/a,100,", "GET,/a,lots,"))
    with pytest.raises(locust_csv.LocustOutputError, match=r"locust_stats\.csv:2: unreadable"):
        locust_csv.read_stats(path)


def test_side_files_are_merged(tmp_path: Path) -> None:
    prefix = write_run(tmp_path, HISTORY)
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    recorder = SampleRecorder(tmp_path / "samples.jsonl")
    for i, value in enumerate([900.0, 1200.0, 800.0]):
        recorder.record("ai_generation", value, timestamp=t0 + timedelta(seconds=3 - i))
    recorder.record("ai_generation", 30000.0, ok=False, timestamp=t0 + timedelta(seconds=4))
    recorder.record("cache_hit_ratio", 0.9, unit="ratio", timestamp=t0)
    for second in range(3):
        append_jsonl(
            tmp_path / "probes.jsonl",
            ProbeResult(
                timestamp=t0 + timedelta(seconds=second),
                target="health",
                ok=second != 1,
                latency_ms=3.0,
            ),
        )
    append_jsonl(
        tmp_path / "chaos_events.jsonl",
        ChaosEvent(name="redis-outage", started_at=t0, recovered_at=t0 + timedelta(seconds=2)),
    )
    results = build_results(prefix, profile="prod", platform="local", users=2, duration_s=4)
    ai = results.custom_metrics["ai_generation"]
    assert [s.value for s in ai.samples] == [800.0, 1200.0, 900.0, 30000.0]  # sorted by time
    assert ai.summary.count == 4
    assert ai.summary.failed == 1
    assert ai.summary.max == 30000.0
    assert results.custom_metrics["cache_hit_ratio"].unit == "ratio"
    assert [p.ok for p in results.probes] == [True, False, True]
    assert results.chaos_events[0].recovery_s == 2.0
    assert {"samples", "probes", "chaos_events"} <= set(results.artifacts)
    # The computed summary is written out for other readers and ignored when read back.
    saved = results.save(tmp_path / "results.json")
    assert '"summary"' in saved.read_text()
    assert LoadResults.load(saved) == results


def test_samples_with_conflicting_units_are_refused(tmp_path: Path) -> None:
    prefix = write_run(tmp_path, HISTORY)
    results = build_results(prefix, profile="prod", platform="local", users=2, duration_s=4)
    now = datetime.now(UTC)
    results.add_samples([SampleRecord(metric="m", unit="ms", value=1, timestamp=now)])
    with pytest.raises(ValueError, match="recorded in 's' and 'ms'"):
        results.add_samples([SampleRecord(metric="m", unit="s", value=1, timestamp=now)])


def test_record_sample_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SAMPLES_ENV, raising=False)
    assert record_sample("ai_generation", 1.0) is None  # recording off, journey unaffected
    monkeypatch.setenv(SAMPLES_ENV, str(tmp_path / "s.jsonl"))
    record_sample("ai_generation", 12.5, labels={"days": "3"})
    (sample,) = read_jsonl(tmp_path / "s.jsonl", SampleRecord)
    assert (sample.metric, sample.value, sample.labels) == ("ai_generation", 12.5, {"days": "3"})


def test_jsonl_tolerates_a_torn_last_line_only(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    good = ProbeResult(timestamp=datetime.now(UTC), target="t", ok=True, latency_ms=1.0)
    append_jsonl(path, good)
    with path.open("a") as handle:
        handle.write('{"timestamp": "2026-01-01T00:00:00Z", "tar')  # writer killed mid-line
    assert read_jsonl(path, ProbeResult) == [good]
    path.write_text('{"nonsense": 1}\n' + good.model_dump_json() + "\n")
    with pytest.raises(JsonlError, match=r"p\.jsonl:1: not a ProbeResult"):
        read_jsonl(path, ProbeResult)
    assert read_jsonl(tmp_path / "absent.jsonl", ProbeResult) == []


def test_record_chaos_event_after_the_run(tmp_path: Path) -> None:
    prefix = write_run(tmp_path, HISTORY)
    path = build_results(prefix, profile="prod", platform="local", users=2, duration_s=4).save(
        tmp_path / "results.json"
    )
    t0 = datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)
    event = ChaosEvent(
        name="kill-replica",
        started_at=t0,
        ended_at=t0,
        recovered_at=t0 + timedelta(seconds=9),
        details={"service": "trip"},
    )
    record_chaos_event(path, event)
    assert LoadResults.load(path).chaos_events == [event]


def test_chaos_event_times_must_be_ordered() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match=r"recovered_at .* is before started_at"):
        ChaosEvent(name="x", started_at=t0, recovered_at=t0 - timedelta(seconds=1))


def test_chaos_window_runs_to_recovery_or_run_end() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    end = t0 + timedelta(seconds=100)
    lifted_late = ChaosEvent(
        name="a",
        started_at=t0,
        ended_at=t0 + timedelta(seconds=30),
        recovered_at=t0 + timedelta(seconds=20),
    )
    assert lifted_late.window(end) == (t0, t0 + timedelta(seconds=30))
    never = ChaosEvent(name="b", started_at=t0, ended_at=t0 + timedelta(seconds=5))
    assert never.window(end) == (t0, end)

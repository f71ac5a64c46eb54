"""Collect one load run into `LoadResults`: locust's CSV/JSON output plus the run's side files
(`samples.jsonl`, `probes.jsonl`, `chaos_events.jsonl`). Locust parsing stays with load; the
results model it fills lives in `runs.results`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runs.jsonl import read_jsonl
from runs.results import (
    CHAOS_FILE,
    PROBES_FILE,
    SAMPLES_FILE,
    ChaosEvent,
    EndpointStats,
    ExceptionRecord,
    FailureRecord,
    LoadResults,
    ProbeResult,
    SampleRecord,
    TimePoint,
    aware,
)
from scenarios.load import locust_csv


def build_results(
    csv_prefix: Path,
    *,
    profile: str,
    platform: str,
    users: int,
    duration_s: float,
    spawn_rate: float | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    host: str | None = None,
    replicas: Mapping[str, int] | None = None,
    processes: int = 1,
    samples: Path | None = None,
    probes: Path | None = None,
    chaos_events: Path | None = None,
    notes: Iterable[str] = (),
) -> LoadResults:
    """Build `LoadResults` from locust's `--csv PREFIX` output and the run's side files.

    Side files default to `samples.jsonl`, `probes.jsonl` and `chaos_events.jsonl` in the CSV's
    folder; an absent side file means nothing of that kind was recorded. `PREFIX.json` (locust
    `--json-file PREFIX`) is preferred when present: the same stats, final, with histograms.
    `started_at`/`ended_at` default to the first and last stats-history rows (the last row can
    be up to a second before the run really ended; `run_load` passes the exit time).
    """
    locust = _read_locust(csv_prefix, list(notes))
    points = locust.points
    if started_at is None or ended_at is None:
        if not points:
            raise locust_csv.LocustOutputError(
                f"{csv_prefix}_stats_history.csv: no rows, and no started_at/ended_at given"
            )
        started_at = started_at or points[0]["timestamp"]
        ended_at = ended_at or points[-1]["timestamp"]
    results = LoadResults(
        profile=profile,
        platform=platform,
        host=host,
        users=users,
        spawn_rate=spawn_rate,
        duration_s=duration_s,
        started_at=aware(started_at),
        ended_at=aware(ended_at),
        replicas=dict(replicas or {}),
        load_generator_processes=processes,
        endpoints=[EndpointStats.model_validate(row) for row in locust.endpoints],
        totals=EndpointStats.model_validate(locust.totals),
        timeseries=[TimePoint.model_validate(p) for p in points],
        timeseries_percentiles=locust.window,
        failures=[
            FailureRecord.model_validate(r)
            for r in locust_csv.read_failures(Path(f"{csv_prefix}_failures.csv"))
        ],
        exceptions=[
            ExceptionRecord.model_validate(r)
            for r in locust_csv.read_exceptions(Path(f"{csv_prefix}_exceptions.csv"))
        ],
        artifacts=_artifacts(csv_prefix),
        notes=locust.notes,
    )
    _merge_side_files(results, csv_prefix.parent, samples, probes, chaos_events)
    return results


@dataclass
class _LocustOutput:
    endpoints: list[dict[str, Any]]
    totals: dict[str, Any]
    points: list[dict[str, Any]]
    window: Any
    notes: list[str]


def _read_locust(csv_prefix: Path, notes: list[str]) -> _LocustOutput:
    """The stats (final ones from `PREFIX.json` when present) and the per-second history."""
    stats_path = Path(f"{csv_prefix}_stats.csv")
    endpoints, totals = locust_csv.read_stats(stats_path)
    final = locust_csv.read_final_stats(
        Path(f"{csv_prefix}.json"), locust_csv.percentile_keys(stats_path)
    )
    if final is not None:
        if final[1]["requests"] != totals["requests"]:
            notes.append(
                f"locust's stats CSV (rewritten once a second, not on shutdown) counted "
                f"{totals['requests']:,} of the run's {final[1]['requests']:,} requests; "
                "endpoint stats are the final ones from locust.json"
            )
        endpoints, totals = final
    points, window = locust_csv.read_history(Path(f"{csv_prefix}_stats_history.csv"))
    return _LocustOutput(endpoints, totals, points, window, notes)


def _artifacts(csv_prefix: Path) -> dict[str, str]:
    """Locust's output files that exist, by kind."""
    return {
        kind: path.name
        for kind, path in {
            "stats_csv": Path(f"{csv_prefix}_stats.csv"),
            "stats_history_csv": Path(f"{csv_prefix}_stats_history.csv"),
            "failures_csv": Path(f"{csv_prefix}_failures.csv"),
            "exceptions_csv": Path(f"{csv_prefix}_exceptions.csv"),
            "locust_json": Path(f"{csv_prefix}.json"),
            "locust_html": Path(f"{csv_prefix}.html"),
        }.items()
        if path.exists()
    }


def _merge_side_files(
    results: LoadResults,
    folder: Path,
    samples: Path | None,
    probes: Path | None,
    chaos_events: Path | None,
) -> None:
    """Samples, probes and chaos events written beside the run (absent: none recorded)."""
    for kind, path, default in (
        ("samples", samples, SAMPLES_FILE),
        ("probes", probes, PROBES_FILE),
        ("chaos_events", chaos_events, CHAOS_FILE),
    ):
        side = path or folder / default
        if side.exists():
            results.artifacts[kind] = os.path.relpath(side, folder)
    results.add_samples(read_jsonl(samples or folder / SAMPLES_FILE, SampleRecord))
    results.add_probes(read_jsonl(probes or folder / PROBES_FILE, ProbeResult))
    results.add_chaos_events(read_jsonl(chaos_events or folder / CHAOS_FILE, ChaosEvent))

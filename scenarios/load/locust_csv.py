"""Readers for locust's own output files, as written by locust 2.47 (`locust/stats.py`).

`--csv PREFIX` writes (columns checked against `StatsCSV` / `StatsCSVFileWriter`):

* `PREFIX_stats.csv` — Type, Name, Request Count, Failure Count, Median Response Time,
  Average Response Time, Min Response Time, Max Response Time, Average Content Size,
  Requests/s, Failures/s, then one column per reported percentile ("50%", …, "99.9%", "100%");
  one row per endpoint and a last row with Type "" and Name "Aggregated"; "N/A" percentiles for
  an endpoint without requests. It is rewritten once a second and *not* on shutdown, so it
  misses the run's last second (a fifth of a 5 s run); `PREFIX.json` (`--json-file PREFIX`,
  every StatsEntry's raw counters and response-time histogram) is final, and
  `read_final_stats` turns it into the same rows with locust's own formulas.
* `PREFIX_stats_history.csv` — Timestamp (epoch s), User Count, Type, Name, Requests/s,
  Failures/s, the percentile columns, Total Request Count, Total Failure Count, Total Median /
  Average / Min / Max Response Time, Total Average Content Size; one Aggregated row appended a
  second, plus one per endpoint with `--csv-full-history`. Requests/s there is locust's 10 s
  moving average, so the exact per-interval rate is derived from the cumulative counts instead.
  Percentiles are over locust's last 10 s with `--csv-full-history`, else cumulative since start.
* `PREFIX_failures.csv` — Method, Name, Error, Occurrences, First Seen, Last Seen (UTC,
  `%Y-%m-%dT%H:%M:%SZ`).
* `PREFIX_exceptions.csv` — Count, Message, Traceback, Nodes.

The readers return plain dicts keyed like the `runs.results` models' fields, which
validate them; this module does not import the models so that `results` can import it.
Percentiles over histograms use `runs.quantiles.histogram_percentile`, locust's own walk.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from runs import quantiles

PERCENTILE_COLUMN = re.compile(r"^(\d+(?:\.\d+)?)%$")
AGGREGATED = "Aggregated"

STATS_COLUMNS = (
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
)
HISTORY_COLUMNS = (
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    "Total Request Count",
    "Total Failure Count",
)
FAILURES_COLUMNS = ("Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen")
EXCEPTIONS_COLUMNS = ("Count", "Message", "Traceback", "Nodes")


class LocustOutputError(ValueError):
    """A locust output file is missing or not in the expected format (the message names it)."""


def _rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[dict[str, str]]]:
    if not path.exists():
        raise LocustOutputError(f"{path}: not found (did locust run with --csv?)")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        missing = [c for c in required if c not in header]
        if missing:
            raise LocustOutputError(
                f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}"
            )
        return header, list(reader)


def _number(raw: str | None) -> float | None:
    if raw is None or raw in ("", "N/A"):
        return None
    return float(raw)


def _percentile_columns(header: list[str]) -> dict[str, str]:
    """{'50': '50%', '99.9': '99.9%', …} for the percentile columns present."""
    return {m.group(1): c for c in header if (m := PERCENTILE_COLUMN.match(c))}


def _is_aggregated(row: dict[str, str]) -> bool:
    return row["Name"] == AGGREGATED and row["Type"] == ""


def percentile_keys(path: Path) -> list[str]:
    """The percentiles a stats CSV reports, as keys ('50', …, '99.9', '100')."""
    header, _ = _rows(path, STATS_COLUMNS)
    return list(_percentile_columns(header))


def read_stats(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-endpoint rows and the Aggregated row of `PREFIX_stats.csv`."""
    header, rows = _rows(path, STATS_COLUMNS)
    columns = _percentile_columns(header)
    endpoints: list[dict[str, Any]] = []
    totals: dict[str, Any] | None = None
    for number, row in enumerate(rows, start=2):
        try:
            percentiles = {
                key: value
                for key, column in columns.items()
                if (value := _number(row[column])) is not None
            }
            entry = {
                "method": row["Type"],
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "median_ms": float(row["Median Response Time"]),
                "mean_ms": float(row["Average Response Time"]),
                "min_ms": float(row["Min Response Time"]),
                "max_ms": float(row["Max Response Time"]),
                "avg_content_bytes": float(row["Average Content Size"]),
                "rps": float(row["Requests/s"]),
                "failures_per_s": float(row["Failures/s"]),
                "percentiles_ms": percentiles,
                **{f"p{p}_ms": percentiles.get(p) for p in ("50", "90", "95", "99")},
            }
        except (TypeError, ValueError) as exc:
            raise LocustOutputError(f"{path}:{number}: unreadable row ({exc})") from exc
        if _is_aggregated(row):
            totals = entry
        else:
            endpoints.append(entry)
    if totals is None:
        raise LocustOutputError(f"{path}: no '{AGGREGATED}' row")
    return endpoints, totals


def read_history(
    path: Path,
) -> tuple[list[dict[str, Any]], Literal["rolling_10s", "cumulative"]]:
    """The aggregated per-second series of `PREFIX_stats_history.csv`.

    Returns the points and whether their percentiles are locust's rolling 10 s window (the file
    has per-endpoint rows, i.e. `--csv-full-history`) or cumulative since the start.
    """
    header, rows = _rows(path, HISTORY_COLUMNS)
    columns = _percentile_columns(header)
    window: Literal["rolling_10s", "cumulative"] = (
        "rolling_10s" if any(not _is_aggregated(r) for r in rows) else "cumulative"
    )
    points: list[dict[str, Any]] = []
    # Baselines for the exact rate: (epoch s, cumulative requests, cumulative failures).
    baselines: list[tuple[int, int, int]] = []
    for number, row in enumerate(rows, start=2):
        if not _is_aggregated(row):
            continue
        try:
            second = int(row["Timestamp"])
            requests = int(row["Total Request Count"])
            failures = int(row["Total Failure Count"])
            users = int(row["User Count"])
            p50 = _number(row.get(columns.get("50", ""), None))
            p95 = _number(row.get(columns.get("95", ""), None))
            smoothed_rps = float(row["Requests/s"])
            smoothed_fps = float(row["Failures/s"])
        except (TypeError, ValueError) as exc:
            raise LocustOutputError(f"{path}:{number}: unreadable row ({exc})") from exc
        if points and baselines[-1][0] == second:
            # Two writes within one wall-clock second: keep the later, rate against the earlier.
            points.pop()
            baselines.pop()
        if baselines:
            before, before_requests, before_failures = baselines[-1]
            interval = second - before
            rps = (requests - before_requests) / interval
            fps = (failures - before_failures) / interval
        else:
            # No earlier row to difference against: locust's own moving average is all there is.
            rps, fps = smoothed_rps, smoothed_fps
        baselines.append((second, requests, failures))
        points.append(
            {
                "timestamp": datetime.fromtimestamp(second, UTC),
                "users": users,
                "rps": rps,
                "failures_per_s": fps,
                # Locust writes 0 while its 10 s window cache is still empty; a real 0 ms
                # percentile would need sub-0.5 ms HTTP round trips, so 0 means "not known yet".
                "p50_ms": p50 or None,
                "p95_ms": p95 or None,
                "requests_total": requests,
                "failures_total": failures,
            }
        )
    return points, window


def _utc(raw: str) -> datetime | None:
    if not raw:
        return None
    return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def read_failures(path: Path) -> list[dict[str, Any]]:
    """Rows of `PREFIX_failures.csv`; an absent file means locust recorded none."""
    if not path.exists():
        return []
    _, rows = _rows(path, FAILURES_COLUMNS)
    return [
        {
            "method": row["Method"],
            "name": row["Name"],
            "error": row["Error"],
            "occurrences": int(row["Occurrences"]),
            "first_seen": _utc(row["First Seen"]),
            "last_seen": _utc(row["Last Seen"]),
        }
        for row in rows
    ]


def read_exceptions(path: Path) -> list[dict[str, Any]]:
    """Rows of `PREFIX_exceptions.csv`; an absent file means none were raised."""
    if not path.exists():
        return []
    _, rows = _rows(path, EXCEPTIONS_COLUMNS)
    return [
        {
            "count": int(row["Count"]),
            "message": row["Message"],
            "traceback": row["Traceback"],
            "nodes": row["Nodes"],
        }
        for row in rows
    ]


def _summarise(
    method: str,
    name: str,
    raw: dict[str, Any],
    histogram: dict[int, int],
    span_s: float,
    percentile_keys: list[str],
) -> dict[str, Any]:
    """One stats row from a StatsEntry's raw fields, with locust's own formulas (stats.py)."""
    requests = int(raw["num_requests"])
    timed = requests - int(raw.get("num_none_requests") or 0)
    minimum = raw.get("min_response_time")
    maximum = float(raw.get("max_response_time") or 0)
    percentiles: dict[str, float] = {}
    median = 0.0
    if timed > 0 and histogram:
        percentiles = {
            k: quantiles.histogram_percentile(histogram, float(k) / 100) or 0.0
            for k in percentile_keys
        }
        # locust clamps the bucketed median into the exact [min, max] range
        median = min(quantiles.histogram_percentile(histogram, 0.5) or 0.0, maximum)
        if minimum is not None:
            median = max(median, float(minimum))
    failures = int(raw["num_failures"])
    return {
        "method": method,
        "name": name,
        "requests": requests,
        "failures": failures,
        "median_ms": median,
        "mean_ms": float(raw["total_response_time"]) / timed if timed > 0 else 0.0,
        "min_ms": float(minimum or 0),
        "max_ms": maximum,
        "avg_content_bytes": float(raw["total_content_length"]) / requests if requests else 0.0,
        "rps": requests / span_s if span_s > 0 else 0.0,
        "failures_per_s": failures / span_s if span_s > 0 else 0.0,
        "percentiles_ms": percentiles,
        **{f"p{p}_ms": percentiles.get(p) for p in ("50", "90", "95", "99")},
        "histogram": histogram,
    }


def read_final_stats(
    path: Path, percentile_keys: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """Final per-endpoint rows and the Aggregated row from `--json-file PREFIX` (`PREFIX.json`),
    in `read_stats`'s shape plus each endpoint's `histogram` ({bucket ms: count}).

    Locust's JSON holds every StatsEntry's raw counters after the run, so this is the stats CSV
    without its last-second lag. Requests/s uses the span from the first entry's start to the
    last request (locust divides by the same span measured from the test's start, which is the
    first request to within milliseconds). None when the file is absent.
    """
    if not path.exists():
        return None
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        histograms = [
            dict(sorted((int(float(b)), int(c)) for b, c in e["response_times"].items()))
            for e in entries
        ]
        starts = [float(e["start_time"]) for e in entries]
        lasts = [float(e["last_request_timestamp"] or 0) for e in entries]
        span = (max(lasts) - min(starts)) if entries else 0.0
        endpoints = sorted(
            (
                _summarise(e["method"] or "", e["name"], e, h, span, percentile_keys)
                for e, h in zip(entries, histograms, strict=True)
            ),
            # locust's sort_stats order, so the rows read like its CSV
            key=lambda row: (row["name"], row["method"]),
        )
        merged: dict[int, int] = {}
        for histogram in histograms:
            for bucket, count in histogram.items():
                merged[bucket] = merged.get(bucket, 0) + count
        minimums = [e["min_response_time"] for e in entries if e["min_response_time"] is not None]
        # Sums, as locust's total entry accumulates them (response times are float ms).
        total_raw: dict[str, Any] = {
            key: sum(e.get(key) or 0 for e in entries)
            for key in (
                "num_requests",
                "num_none_requests",
                "num_failures",
                "total_response_time",
                "total_content_length",
            )
        }
        total_raw["min_response_time"] = min(minimums) if minimums else None
        total_raw["max_response_time"] = max(
            (float(e["max_response_time"] or 0) for e in entries), default=0.0
        )
        totals = _summarise("", AGGREGATED, total_raw, merged, span, percentile_keys)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LocustOutputError(f"{path}: not locust --json-file output ({exc!r})") from exc
    totals["histogram"] = None  # the run-wide histogram is the endpoints' sum; not stored twice
    return endpoints, totals

"""CPU per request of single routes, as the benchmark measured them (`nox -s bench`, its JSON in
`.tripgen/bench/<stamp>.json`).

A load run of the journey mix calibrates each service's CPU per request, but the routes of one
service share its processes: one run cannot tell how that CPU splits over them, so by default
the model shares it out by mean response time (an estimate). The benchmark measures the key
routes one at a time — each case one route, zero think time, CPU per request of every process
class from /proc — so for those routes it can. A case with a single `/api/<service>/…` route, no
errors and a CPU figure for that service gives that route's CPU per request in its own service.

The model uses these figures as the routes' weights inside their service and still keeps the
service's CPU measured in the calibration run (`simulation.capacity.workload`): the benchmark
runs at saturation, where a request costs less than at the mix's load, so its figures say how
the routes compare, not what a request costs at another load.

The report is read as data, not imported: the benchmark (`scenarios.bench`) sits above the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulation.capacity.calibration import service_of

PREFERRED_MODE = "prod"  # the profile's replica counts: the layout the validation measures


class RouteCpuError(ValueError):
    """A benchmark report the model cannot take route CPU from (the message says why)."""


@dataclass(frozen=True)
class RouteCpu:
    """CPU-ms per request of each measured route in its own service, keyed as the load runs'
    endpoints are (`METHOD /api/…`)."""

    source: str
    mode: str
    commit: str | None
    ms_per_request: dict[str, float]
    requests: dict[str, int]  # the n behind each figure

    def weighed_services(self) -> list[str]:
        """The services with two or more measured routes: the only ones the figures can weigh
        (one route of a service has nothing in it to compare with)."""
        counts: dict[str, int] = {}
        for key in self.ms_per_request:
            service = service_of(key.partition(" ")[2])
            if service is not None:
                counts[service] = counts.get(service, 0) + 1
        return sorted(service for service, n in counts.items() if n >= 2)

    def describe(self) -> str:
        routes = ", ".join(
            f"{key} {ms:.2f} ms (n={self.requests[key]:,})"
            for key, ms in sorted(self.ms_per_request.items())
        )
        commit = f", commit {self.commit[:10]}" if self.commit else ""
        return f"{self.source} ({self.mode} replicas{commit}): {routes}"


def route_cpu_from_report(
    report: Mapping[str, Any], source: str, mode: str | None = None
) -> RouteCpu:
    """The one-route cases of a benchmark report, from `mode`'s run (default: prod if the
    report has it, else its first)."""
    runs = report.get("runs")
    if not isinstance(runs, Mapping) or not runs:
        raise RouteCpuError(f"{source} holds no benchmark runs (is it a `nox -s bench` report?)")
    if mode is None:
        mode = PREFERRED_MODE if PREFERRED_MODE in runs else next(iter(runs))
    elif mode not in runs:
        raise RouteCpuError(f"{source} has no {mode!r} run (it has {', '.join(runs)})")
    ms: dict[str, float] = {}
    requests: dict[str, int] = {}
    for case in runs[mode].get("cases", []):
        measured = _one_route(case)
        if measured is None:
            continue
        key, figure, n = measured
        if n > requests.get(key, 0):  # two cases of one route: the larger sample
            ms[key], requests[key] = figure, n
    if not ms:
        raise RouteCpuError(
            f"{source} has no one-route case with a CPU figure for its service in the {mode!r} "
            "run (a report from before routes carried their method? rerun `nox -s bench`)"
        )
    commit = report.get("git_commit")
    return RouteCpu(source, mode, commit if isinstance(commit, str) else None, ms, requests)


def _one_route(case: Mapping[str, Any]) -> tuple[str, float, int] | None:
    """(`METHOD /api/…`, CPU-ms per request in its service, requests) of a case that measured
    one API route without errors; None for any other case (the baseline, mixes, bursts)."""
    per_route = case.get("per_route") or {}
    if len(per_route) != 1 or case.get("failures", 1) != 0:
        return None
    ((name, row),) = per_route.items()
    service = service_of(name)
    method = row.get("method") if isinstance(row, Mapping) else None
    figure = (case.get("cpu_ms_per_request") or {}).get(service)
    requests = case.get("requests", 0)
    if service is None or not method or not isinstance(figure, int | float) or figure <= 0:
        return None
    if not isinstance(requests, int) or requests <= 0:
        return None
    return f"{method} {name}", float(figure), requests


def load_route_cpu(path: Path, mode: str | None = None) -> RouteCpu:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RouteCpuError(f"no benchmark report at {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RouteCpuError(f"{path} is not a benchmark report: {exc}") from exc
    if not isinstance(report, Mapping):
        raise RouteCpuError(f"{path} is not a benchmark report: not a JSON object")
    if report.get("complete") is not True:
        raise RouteCpuError(f"{path} is an unfinished benchmark run (its 'complete' is not true)")
    return route_cpu_from_report(report, str(path), mode)


def latest_route_cpu(root: Path) -> RouteCpu | None:
    """The newest finished benchmark report under `root` that can weigh a service's routes;
    None if none. Unfinished reports, and runs that measured at most one route per service (a
    `--only trip_create` run, say), are passed over: a default must not stop the model, nor
    shadow an older report that measured more."""
    for path in sorted(root.glob("*.json"), reverse=True):  # names are UTC stamps
        try:
            route_cpu = load_route_cpu(path)
        except RouteCpuError:
            continue
        if route_cpu.weighed_services():
            return route_cpu
    return None


def resolve_route_cpu(explicit: Path | None, *, enabled: bool, root: Path) -> RouteCpu | None:
    """What the command line asked for: none (`enabled` false), the given report (errors
    raised), or the newest usable report under `root`."""
    if not enabled:
        return None
    if explicit is not None:
        return load_route_cpu(explicit)
    return latest_route_cpu(root)

"""One measured case of the benchmark: a zero-wait headless locust run with the CPU of every
process class metered (`scenarios.bench.cpu`), optionally a py-spy flame graph of one replica of
the route's service; and the deployment's idle CPU, taken off every case's figures."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from runs.folders import new_run_dir
from runs.results import SAMPLES_FILE, LoadResults
from scenarios.bench.ai import AiBenchResult, run_ai_bench
from scenarios.bench.cases import Figures
from scenarios.bench.cpu import CaseCpu, idle_rates, net_of_idle, per_request_ms
from scenarios.bench.deployment import BenchDeployment, BenchError
from scenarios.bench.flamegraph import write_flamegraph
from scenarios.bench.planner import PLACES_FILE, load_places
from scenarios.bench.planner_speed import measure_planner_speed
from scenarios.bench.pyspy import ProfileSummary, PySpyRecorder, find_py_spy
from scenarios.load.runner import run_load
from scenarios.load.usage import UsageMeter, record_usage
from scenarios.sla.report import LOCUST_PROCESS_CEILING_RPS
from services.ai.planner.synthetic import seoul_places

REPO_ROOT = Path(__file__).resolve().parents[2]
BASELINE_REPLICAS = 2  # one per core, each one uvicorn worker like a service replica
# Idle is measured once the fixture's trailing work (relay, checkpoints, first scrapes) is over:
# after a settling pause, the median of a few windows, so one busy window does not count.
IDLE_SETTLE_S = 3.0
IDLE_WINDOW_S = 3.0
IDLE_WINDOWS = 3
# Before each case the deployment must be back near idle: work a case leaves queued (a trip
# creation run's events, relayed and consumed for seconds after its last request) would
# otherwise be charged to the next case and take its cores.
SETTLE_WINDOW_S = 1.0
SETTLE_MAX_S = 30.0
SETTLE_MARGIN_CORES = 0.05

console = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class Options:
    users: int
    duration_s: float
    processes: int
    only: frozenset[str]
    py_spy: bool
    keep: bool
    deploy_dir: Path
    out_root: Path
    modes: tuple[str, ...] = ("prod",)
    service_env: tuple[tuple[str, str], ...] = ()  # extra TRIPGEN_* settings of every replica

    def settings(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "duration_s": self.duration_s,
            "processes": self.processes,
            "baseline_replicas": BASELINE_REPLICAS,
            "replica_modes": list(self.modes),
            "rate_limit": "off",
            "service_env": dict(self.service_env),
        }

    def deploy_dir_of(self, mode: str) -> Path:
        return (
            self.deploy_dir
            if mode == "prod"
            else self.deploy_dir.with_name(f"{self.deploy_dir.name}-{mode}")
        )


def _env(extra: dict[str, str]) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **extra,
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
    }


def _spy(
    opts: Options, deployment: BenchDeployment | None, service: str | None, folder: Path
) -> PySpyRecorder | None:
    if not opts.py_spy or deployment is None or service is None:
        return None
    binary, pid = find_py_spy(), deployment.pid_of(service)
    if binary is None or pid is None:
        raise BenchError(f"cannot profile {service}: py-spy {binary}, replica pid {pid}")
    return PySpyRecorder(binary, pid, folder / "py-spy.txt", opts.duration_s + 3)


def measure(
    key: str,
    title: str,
    locustfile: Path,
    host: str,
    opts: Options,
    folder: Path,
    *,
    user_class: str | None = None,  # locust user classes, space-separated
    env: dict[str, str] | None = None,
    deployment: BenchDeployment | None = None,
    roots: list[tuple[str, str, int]] | None = None,
    idle: dict[str, float] | None = None,
    profile_service: str | None = None,
    spawn_rate: float | None = None,
) -> Figures:
    """One zero-wait locust run with the CPU of every process class metered: the deployment's
    through the usage meter, `roots` (the baseline's processes) directly, locust once reaped."""
    run_folder = new_run_dir(key, folder)
    settled = settle(deployment, idle, run_folder) if deployment is not None and idle else None
    console.print(f"[bold]{title}[/]: {opts.users} users, {opts.duration_s:g} s …")
    meter = (
        UsageMeter(deployment.platform, deployment.endpoints, run_folder / SAMPLES_FILE).start()
        if deployment is not None
        else None
    )
    spy = _spy(opts, deployment, profile_service, run_folder)
    cpu = CaseCpu.start(roots or [])
    try:
        path = run_load(
            locustfile,
            host,
            profile=key,
            platform="local",
            users=opts.users,
            spawn_rate=spawn_rate or float(opts.users),
            duration_s=opts.duration_s,
            run_dir=run_folder,
            replicas=deployment.replicas() if deployment else {"baseline": BASELINE_REPLICAS},
            processes=opts.processes,
            env=_env(env or {}),
            extra_args=["--reset-stats", *(user_class.split() if user_class else [])],
        )
    finally:
        usage = meter.stop() if meter is not None else None
    per_process = {s: u.cpu_seconds for s, u in usage.resource_usage.items()} if usage else {}
    classes, machine = cpu.stop(per_process)
    net = net_of_idle(classes, idle or {}, cpu.span_s)
    results = record_usage(path, usage) if usage is not None else LoadResults.load(path)
    t = results.totals
    figures = Figures(
        key=key,
        title=title,
        requests=t.requests,
        failures=t.failures,
        rps=t.rps,
        p50_ms=t.p50_ms,
        p95_ms=t.p95_ms,
        p99_ms=t.p99_ms,
        users=opts.users,
        processes=opts.processes,
        run_folder=str(run_folder),
        cpu_seconds=classes,
        cpu_seconds_net_of_idle=net,
        cpu_ms_per_request=per_request_ms(net, t.requests),
        cpu_seconds_by_process=per_process,
        machine_cpu=machine.since(cpu.machine_before),
        per_route=_per_route(results),
    )
    _notes(figures, results, opts)
    figures.notes += settled.notes() if settled is not None else []
    if spy is not None:
        summary = spy.finish()
        figures.profile = {"error": summary} if isinstance(summary, str) else _profile_dict(summary)
        if not isinstance(summary, str):
            svg = write_flamegraph(
                spy.out, run_folder / "flamegraph.svg", f"{title}: {profile_service} replica"
            )
            figures.profile["flamegraph"] = str(svg)
    return figures


def _per_route(results: LoadResults) -> dict[str, dict[str, Any]]:
    """Locust's rows by request name; the method makes a row a route (the capacity model reads
    a one-route case's CPU as that route's, `simulation.capacity.route_cpu`)."""
    keys = ("method", "requests", "failures", "rps", "p95_ms")
    return {e.name: {k: getattr(e, k) for k in keys} for e in results.endpoints}


def _notes(figures: Figures, results: LoadResults, opts: Options) -> None:
    if figures.rps / opts.processes > 0.75 * LOCUST_PROCESS_CEILING_RPS:
        figures.notes.append(
            f"{figures.rps / opts.processes:,.0f} req/s per locust process is near one "
            f"process's ceiling (~{LOCUST_PROCESS_CEILING_RPS:,}); rerun with --processes 2"
        )
    if results.failures:
        worst = max(results.failures, key=lambda f: f.occurrences)
        figures.notes.append(f"failures, most: {worst.occurrences}× {worst.name}: {worst.error}")
    if results.exceptions:
        figures.notes.append(f"locustfile raised: {results.exceptions[0].message}")
    if figures.requests == 0:
        figures.notes.append("no request was counted: the case did not run")


def _profile_dict(summary: ProfileSummary) -> dict[str, Any]:
    return {
        "samples": summary.samples,
        "self": [(f.frame, round(f.share, 3)) for f in summary.self_time],
        "inclusive": [(f.frame, round(f.share, 3)) for f in summary.inclusive],
    }


def measure_ai(
    deployment: BenchDeployment,
    accounts: list[dict[str, str]],
    idle: dict[str, float],
    folder: Path,
    *,
    concurrency: int,
) -> AiBenchResult:
    """AI generation end to end with the CPU of every process class metered, as `measure` does
    for a locust case; the requesting client is this process (`client`), not locust."""
    run_folder = new_run_dir("ai", folder)
    settled = settle(deployment, idle, run_folder)
    places = load_places(PLACES_FILE, "Seoul") if PLACES_FILE.exists() else seoul_places()
    speed = measure_planner_speed(places)
    console.print(f"[bold]AI generation[/]: {concurrency} concurrent; {speed.describe()} …")
    for note in settled.notes():
        console.print(f"  [yellow]{note}[/]")
    meter = UsageMeter(deployment.platform, deployment.endpoints, run_folder / SAMPLES_FILE)
    meter.start()
    cpu = CaseCpu.start(client=True)
    meter_before_s = meter.own_cpu_s  # its first sample ran before the client's window
    try:
        result = run_ai_bench(deployment.endpoints.base_url, accounts, concurrency=concurrency)
    finally:
        usage = meter.stop()
    per_process = {s: u.cpu_seconds for s, u in usage.resource_usage.items()}
    classes, _ = cpu.stop(per_process)
    # This process also ran the usage meter: its sampling is measurement, not the client's.
    meter_s = min(meter.own_cpu_s - meter_before_s, classes.get("client", 0.0))
    classes["client"] = round(classes.get("client", 0.0) - meter_s, 3)
    classes["meter"] = round(meter_s, 3)
    net = net_of_idle(classes, idle, cpu.span_s)
    return replace(
        result,
        cpu_seconds_net_of_idle=net,
        cpu_ms_per_generation=per_request_ms(net, len(result.generations)),
        planner_speed_ms=speed.cpu_ms,
    )


def measure_idle(deployment: BenchDeployment, folder: Path) -> dict[str, float]:
    """CPU-seconds per second of each process class with no load (caches already warm): after
    `IDLE_SETTLE_S`, the median over `IDLE_WINDOWS` windows of `IDLE_WINDOW_S` each."""
    total = IDLE_SETTLE_S + IDLE_WINDOWS * IDLE_WINDOW_S
    console.print(f"idle CPU of the deployment: {total:g} s …")
    time.sleep(IDLE_SETTLE_S)
    windows: list[dict[str, float]] = []
    for n in range(IDLE_WINDOWS):
        meter = UsageMeter(
            deployment.platform, deployment.endpoints, folder / f"idle-samples-{n + 1}.jsonl"
        )
        started = time.monotonic()
        meter.start()
        time.sleep(IDLE_WINDOW_S)
        usage = meter.stop()
        per_process = {s: u.cpu_seconds for s, u in usage.resource_usage.items()}
        windows.append(idle_rates(per_process, time.monotonic() - started))
    return median_rates(windows)


@dataclass(frozen=True)
class Settled:
    waited_s: float
    busy_cores: float | None  # above idle when it never settled; None when it did

    def notes(self) -> list[str]:
        if self.busy_cores is not None:
            return [
                f"the deployment was still busy after {SETTLE_MAX_S:g} s ({self.busy_cores:.2f} "
                "cores above idle): the previous case's queued work counts in this one"
            ]
        if self.waited_s >= 2:
            return [f"waited {self.waited_s:.0f} s for the previous case's queued work to finish"]
        return []


def settle(deployment: BenchDeployment, idle: dict[str, float], folder: Path) -> Settled:
    """Wait, one window at a time and for at most `SETTLE_MAX_S`, until the deployment burns no
    more than its idle CPU plus `SETTLE_MARGIN_CORES`."""
    quiet = sum(idle.values()) + SETTLE_MARGIN_CORES
    began = time.monotonic()
    busy = 0.0
    while time.monotonic() - began < SETTLE_MAX_S:
        meter = UsageMeter(
            deployment.platform, deployment.endpoints, folder / "settle-samples.jsonl"
        )
        started = time.monotonic()
        meter.start()
        time.sleep(SETTLE_WINDOW_S)
        usage = meter.stop()
        rate = sum(u.cpu_seconds for u in usage.resource_usage.values()) / max(
            time.monotonic() - started, 1e-9
        )
        if rate <= quiet:
            return Settled(time.monotonic() - began, None)
        busy = rate - quiet + SETTLE_MARGIN_CORES
    console.print(f"  [yellow]still {busy:.2f} cores above idle after {SETTLE_MAX_S:g} s[/]")
    return Settled(time.monotonic() - began, busy)


def median_rates(windows: list[dict[str, float]]) -> dict[str, float]:
    """Per class, the median of the windows' rates (a class missing from a window counts 0)."""
    classes = sorted({k for w in windows for k in w})
    return {k: round(statistics.median(w.get(k, 0.0) for w in windows), 4) for k in classes}

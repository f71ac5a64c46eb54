"""`python -m scenarios.bench` (`nox -s bench`): throughput and latency of the key routes and the
journey mix on the local prod-sim, as ratios to a trivial app served the same way, in one run.

    python -m scenarios.bench [--duration 20s | --quick] [--users 50] [--processes K]
                              [--only CASE …] [--py-spy] [--keep] [--run-dir DIR]

Order: deploy prod on `local` in the benchmark's own run directory (`.tripgen/bench/deployment`,
rate limit off: zero-wait users would otherwise hit the 100 requests/min per user), register
accounts and warm the caches (`scenarios.bench.fixture`), then — each a headless locust run
with `--reset-stats` (the ramp is not measured) and zero think time — the baseline
(`scenarios.bench.baseline`), every route case, the weighted journey mix through nginx, the
baseline again (its drift shows the noise of a shared machine), and AI generation end to end at
10 concurrent generations (`scenarios.bench.ai`). Prints requests/s, p50/p95/p99, the ratio to
the baseline and MET/MISS per target; writes `.tripgen/bench/<stamp>.json` and keeps each run's
locust output under `.tripgen/bench/<stamp>/`.

Compare figures only within one run: on a 2-core machine the services, PostgreSQL, Redis, nginx
and locust share the cores, and other work on the machine moves every figure (DESIGN.md ›
Measured on this kind of machine: ±30%). The JSON records the machine's busy and stolen CPU
share during each case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from runs.folders import new_run_dir
from runs.results import SAMPLES_FILE, LoadResults, Machine
from scenarios.bench.ai import AiBenchResult, run_ai_bench
from scenarios.bench.baseline import BaselineError, BaselineServer
from scenarios.bench.cases import AI_CONCURRENCY, CASE_KEYS, ROUTE_CASES, Figures
from scenarios.bench.fixture import FixtureError, build_fixture
from scenarios.bench.pyspy import ProfileSummary, PySpyRecorder, find_py_spy
from scenarios.bench.verdicts import ai_dict, baseline_rps, evaluate, print_bench
from scenarios.cli.args import parse_duration, positive_int
from scenarios.load.locustfiles.settings import BENCH_FIXTURE_ENV, JourneySettings
from scenarios.load.runner import LoadRunError, run_load
from scenarios.load.usage import MachineCpu, UsageMeter, record_usage
from scenarios.sla.gate import git_state
from scenarios.sla.report import LOCUST_PROCESS_CEILING_RPS
from simulation.platforms.base import DeploymentStatus, Endpoints, PlatformError
from simulation.platforms.local import LocalPlatform
from simulation.state import load_state, run_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILES = REPO_ROOT / "scenarios" / "load" / "locustfiles"
RATE_LIMIT_ENV = "TRIPGEN_RATE_LIMIT_PER_MINUTE"
BASELINE_REPLICAS = 2  # one per core, each one uvicorn worker like a service replica
QUICK_DURATION_S = 8.0
# The mix is the journeys with zero think time, on the fixture's accounts (no sign-up ramp);
# one traveller asks for an itinerary at most once a minute (50 users → under one a second), so
# the planner's CPU does not stand in for the API's: AI generation is measured on its own.
MIX_JOURNEY = JourneySettings(wait_s=(0.0, 0.0), itinerary_every_s=60.0, ai_deadline_s=30.0)
NEVER_S = 1e9

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


class BenchError(RuntimeError):
    """The benchmark could not run (the message says what to do)."""


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


# --------------------------------------------------------------------------- the deployment


@dataclass(frozen=True)
class BenchDeployment:
    platform: LocalPlatform
    endpoints: Endpoints
    status: DeploymentStatus
    deployed_here: bool

    def replicas(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.status.replicas:
            counts[r.service] = counts.get(r.service, 0) + 1
        return counts

    def pid_of(self, service: str | None) -> int | None:
        return next((r.pid for r in self.status.replicas if r.service == service and r.pid), None)


def ensure_deployment(directory: Path) -> BenchDeployment:
    """The benchmark's own prod-sim (rate limit off): reused when it is running, else made."""
    platform = LocalPlatform(directory, console=console, extra_env={RATE_LIMIT_ENV: "0"})
    state = load_state(platform.run_dir)
    if state is not None:
        extra = state.details.get("plan", {}).get("extra_env", {})
        if state.platform != "local" or state.profile != "prod" or extra.get(RATE_LIMIT_ENV) != "0":
            raise BenchError(
                f"{platform.run_dir} holds a {state.platform}/{state.profile} deployment without "
                f"{RATE_LIMIT_ENV}=0; stop it (python -m simulation.cli --run-dir "
                f"{platform.run_dir} down) or pick another --run-dir"
            )
        try:
            status = platform.status()
        except PlatformError:
            status = None
        if status is not None and status.all_ready:
            console.print(f"reusing the benchmark deployment in {platform.run_dir}")
            return BenchDeployment(platform, platform.endpoints(), status, deployed_here=False)
    console.print(f"deploying prod on local ({RATE_LIMIT_ENV}=0) in {platform.run_dir} …")
    endpoints = platform.deploy("prod")
    return BenchDeployment(platform, endpoints, platform.status(), deployed_here=True)


# --------------------------------------------------------------------------- one measurement


def _env(extra: dict[str, str]) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **extra,
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
    }


def measure(
    key: str,
    title: str,
    locustfile: Path,
    host: str,
    opts: Options,
    folder: Path,
    *,
    user_class: str | None = None,
    env: dict[str, str] | None = None,
    deployment: BenchDeployment | None = None,
    profile_service: str | None = None,
    spawn_rate: float | None = None,
) -> Figures:
    """One zero-wait locust run; the deployment's CPU is metered when it is the target."""
    run_folder = new_run_dir(key, folder)
    console.print(f"[bold]{title}[/]: {opts.users} users, {opts.duration_s:g} s …")
    meter = (
        UsageMeter(deployment.platform, deployment.endpoints, run_folder / SAMPLES_FILE).start()
        if deployment is not None
        else None
    )
    spy = None
    if opts.py_spy and deployment is not None and profile_service is not None:
        binary, pid = find_py_spy(), deployment.pid_of(profile_service)
        if binary and pid:
            spy = PySpyRecorder(binary, pid, run_folder / "py-spy.txt", opts.duration_s + 3)
    before = MachineCpu.read()
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
            extra_args=["--reset-stats", *([user_class] if user_class else [])],
        )
    finally:
        usage = meter.stop() if meter is not None else None
    machine = MachineCpu.read().since(before)
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
        cpu_seconds={s: u.cpu_seconds for s, u in results.resource_usage.items()},
        machine_cpu=machine,
    )
    if t.rps / opts.processes > 0.75 * LOCUST_PROCESS_CEILING_RPS:
        figures.notes.append(
            f"{t.rps / opts.processes:,.0f} req/s per locust process is near one process's "
            f"ceiling (~{LOCUST_PROCESS_CEILING_RPS:,}); rerun with --processes 2"
        )
    if results.failures:
        worst = max(results.failures, key=lambda f: f.occurrences)
        figures.notes.append(f"failures, most: {worst.occurrences}× {worst.name}: {worst.error}")
    if results.exceptions:
        figures.notes.append(f"locustfile raised: {results.exceptions[0].message}")
    if spy is not None:
        summary = spy.finish()
        figures.profile = {"error": summary} if isinstance(summary, str) else _profile_dict(summary)
    return figures


def _profile_dict(summary: ProfileSummary) -> dict[str, Any]:
    return {
        "samples": summary.samples,
        "self": [(f.frame, round(f.share, 3)) for f in summary.self_time],
        "inclusive": [(f.frame, round(f.share, 3)) for f in summary.inclusive],
    }


# --------------------------------------------------------------------------- the run


def _wanted(opts: Options, key: str) -> bool:
    return not opts.only or key in opts.only


def _measure_all(
    opts: Options, deployment: BenchDeployment, folder: Path
) -> tuple[list[Figures], AiBenchResult | None, str]:
    """Every wanted case against one deployment, bracketed by the baseline twice."""
    figures: list[Figures] = []
    ai: AiBenchResult | None = None
    ai_note = ""
    base = deployment.endpoints.base_url
    with console.status("registering accounts, warming caches …"):
        fixture = build_fixture(base, accounts=opts.users)
    fixture_path = fixture.save(folder / "fixture.json")
    routes_file = LOCUSTFILES / "bench_routes.py"
    mix_journey = replace(MIX_JOURNEY, accounts_file=str(fixture_path))
    if "ai" not in deployment.endpoints.services:
        # Without an ai-service no itinerary ever finishes: a traveller would wait out the
        # deadline instead of using the API, and the mix would measure idle users.
        mix_journey = replace(mix_journey, itinerary_every_s=NEVER_S)
    fixture_env = {BENCH_FIXTURE_ENV: str(fixture_path)}
    with BaselineServer(BASELINE_REPLICAS) as baseline:
        figures.append(
            measure("baseline", "baseline (trivial FastAPI)", routes_file,
                    baseline.base_url, opts, folder, user_class="Baseline")
        )  # fmt: skip
        for case in ROUTE_CASES:
            if _wanted(opts, case.key):
                figures.append(
                    measure(case.key, case.title, routes_file, base, opts, folder,
                            user_class=case.user_class, env=fixture_env,
                            deployment=deployment, profile_service=case.service)
                )  # fmt: skip
        if _wanted(opts, "mix"):
            figures.append(
                measure("mix", "journey mix through nginx", LOCUSTFILES / "journeys.py",
                        base, opts, folder, env=mix_journey.environment(),
                        deployment=deployment, profile_service="location")
            )  # fmt: skip
            if mix_journey.itinerary_every_s >= NEVER_S:
                figures[-1].notes.append("no itinerary requests: ai-service is not deployed")
        figures.append(
            measure("baseline_again", "baseline again (drift = noise)", routes_file,
                    baseline.base_url, opts, folder, user_class="Baseline")
        )  # fmt: skip
    if _wanted(opts, "ai"):
        if "ai" in deployment.endpoints.services:
            console.print(f"[bold]AI generation[/]: {AI_CONCURRENCY} concurrent …")
            ai = run_ai_bench(base, fixture.accounts, concurrency=AI_CONCURRENCY)
        else:
            ai_note = "ai-service is not deployed"
    return figures, ai, ai_note


def run_bench(opts: Options) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = opts.out_root / stamp
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    deployment = ensure_deployment(opts.deploy_dir)
    try:
        figures, ai, ai_note = _measure_all(opts, deployment, folder)
    finally:
        if deployment.deployed_here and not opts.keep:
            deployment.platform.down()
        elif deployment.deployed_here:
            console.print(f"the benchmark deployment stays up in {opts.deploy_dir} (--keep)")
    reference_rps = baseline_rps(figures)
    for f in figures:
        f.ratio = f.rps / reference_rps if reference_rps else None
    checks = evaluate(figures, ai, ai_note)
    commit, dirty = git_state(REPO_ROOT)
    report = {
        "started_at": started.isoformat(),
        "ended_at": datetime.now(UTC).isoformat(),
        "machine": Machine.current().model_dump(),
        "load_average_before": load_before,
        "git_commit": commit,
        "git_dirty": dirty,
        "settings": {
            "users": opts.users,
            "duration_s": opts.duration_s,
            "processes": opts.processes,
            "baseline_replicas": BASELINE_REPLICAS,
            "replicas": deployment.replicas(),
            "rate_limit": "off",
        },
        "baseline_rps": reference_rps,
        "cases": [asdict(f) for f in figures],
        "ai": ai_dict(ai, ai_note),
        "checks": [asdict(c) for c in checks],
    }
    report_path = opts.out_root / f"{stamp}.json"
    report_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_bench(figures, checks, ai, ai_note, reference_rps)
    out.print(str(report_path))
    return report


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.bench",
        description="Key routes and the journey mix on the local prod-sim, as ratios to a "
        "trivial FastAPI app served the same way, with MET/MISS per target.",
    )
    parser.add_argument(
        "--duration",
        type=parse_duration,
        default=None,
        metavar="D",
        help="measured time per case (default 20s)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_DURATION_S:g} s per case: a smoke run, not figures",
    )
    parser.add_argument(
        "--users",
        type=positive_int,
        default=50,
        help="concurrent zero-wait users per case (default 50)",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="K",
        help="locust processes (one tops out near 4,000 req/s)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=CASE_KEYS[1:],
        metavar="CASE",
        help=f"run only these cases: {', '.join(CASE_KEYS[1:])}",
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="profile one replica of each route's service with py-spy",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the benchmark deployment up for the next run"
    )
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="the benchmark deployment's run directory "
                        "(default: <run dir>/bench/deployment)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick and args.duration is not None:
        parser.error("--quick and --duration are alternatives; give one")
    root = run_dir() / "bench"
    opts = Options(
        users=args.users,
        duration_s=args.duration or (QUICK_DURATION_S if args.quick else 20.0),
        processes=args.processes,
        only=frozenset(args.only),
        py_spy=args.py_spy,
        keep=args.keep,
        deploy_dir=args.run_dir or root / "deployment",
        out_root=root,
    )
    if opts.py_spy and find_py_spy() is None:
        parser.error("--py-spy needs py-spy: uv pip install py-spy")
    started = time.monotonic()
    try:
        run_bench(opts)
    except (BenchError, BaselineError, FixtureError, LoadRunError, PlatformError) as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    console.print(f"benchmark took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m scenarios.bench` (`nox -s bench`): throughput and latency of the key routes and the
journey mix on the local prod-sim, as ratios to a trivial app served the same way, in one run.

    python -m scenarios.bench [--duration 20s | --quick] [--users 50] [--processes K]
                              [--only CASE …] [--replicas prod|one|both] [--no-py-spy] [--keep]
                              [--service-env TRIPGEN_NAME=VALUE …] [--run-dir DIR]

Order: deploy prod on `local` in the benchmark's own run directory (`.tripgen/bench/deployment`,
rate limit off: zero-wait users would otherwise hit the 100 requests/min per user), register
accounts and warm the caches (`scenarios.bench.fixture`), then — each a headless locust run with
`--reset-stats` (the ramp is not measured) and zero think time — the baseline
(`scenarios.bench.baseline`), every route case (each with a throughput target followed by the
baseline again, its ratio taken against the baseline runs just before and after it), the login
burst (`scenarios.bench.burst`: paced users on cheap routes, alone and beside zero-wait logins),
the weighted journey mix through nginx, the baseline again (its drift shows the noise of a shared
machine), and AI generation end to end at 10 concurrent generations (`scenarios.bench.ai`). Prints
requests/s, p50/p95/p99, the ratio to the baseline, MET/MISS per target and the CPU milliseconds
per request of every process class (`scenarios.bench.cpu`) and, unless `--no-py-spy`, a flame graph
of one replica of the route's service (`flamegraph.svg` in the case's folder); `--replicas both`
measures every case against the prod replica counts and again against one replica per service
(`scenarios.bench.deployment`). Writes `.tripgen/bench/<stamp>.json` (per replica mode: cases, CPU
per class, verdicts) and keeps each run's locust output under `.tripgen/bench/<stamp>/<mode>/`.

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
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from scenarios.bench.ai import AiBenchResult
from scenarios.bench.baseline import BaselineError, BaselineServer
from scenarios.bench.burst import measure_login_burst
from scenarios.bench.cases import AI_CONCURRENCY, CASE_KEYS, ROUTE_CASES, Case, Figures
from scenarios.bench.cpu import print_cpu
from scenarios.bench.deployment import (
    REPLICA_MODES,
    BenchDeployment,
    BenchError,
    ensure_deployment,
)
from scenarios.bench.fixture import FixtureError, build_fixture
from scenarios.bench.measure import (
    BASELINE_REPLICAS,
    REPO_ROOT,
    Options,
    measure,
    measure_ai,
    measure_idle,
)
from scenarios.bench.pyspy import find_py_spy
from scenarios.bench.results import ModeRun, build_report
from scenarios.bench.verdicts import baseline_rps, evaluate, print_bench, ratio_of
from scenarios.cli.args import parse_duration, positive_int
from scenarios.load.locustfiles.settings import BENCH_FIXTURE_ENV, JourneySettings
from scenarios.load.runner import LoadRunError
from simulation.platforms.base import PlatformError
from simulation.state import run_dir

LOCUSTFILES = REPO_ROOT / "scenarios" / "load" / "locustfiles"
QUICK_DURATION_S = 8.0
# The mix is the journeys with zero think time, on the fixture's accounts (no sign-up ramp);
# one traveller asks for an itinerary at most once a minute (50 users → under one a second), so
# the planner's CPU does not stand in for the API's: AI generation is measured on its own.
MIX_JOURNEY = JourneySettings(wait_s=(0.0, 0.0), itinerary_every_s=60.0, ai_deadline_s=30.0)
NEVER_S = 1e9

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, width=max(Console().width, 150))


# --------------------------------------------------------------------------- the run


def _wanted(opts: Options, key: str) -> bool:
    return not opts.only or key in opts.only


def _measure_all(
    opts: Options, deployment: BenchDeployment, folder: Path
) -> tuple[list[Figures], AiBenchResult | None, str, dict[str, float]]:
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
    idle = measure_idle(deployment, folder)
    with BaselineServer(BASELINE_REPLICAS) as baseline:
        figures.append(
            measure("baseline", "baseline (trivial FastAPI)", routes_file,
                    baseline.base_url, opts, folder, user_class="Baseline",
                    roots=baseline.roots)
        )  # fmt: skip

        def route_case(case: Case) -> Figures:
            return measure(
                case.key,
                case.title,
                routes_file,
                base,
                opts,
                folder,
                user_class=case.user_class,
                env=fixture_env,
                deployment=deployment,
                idle=idle,
                profile_service=case.service,
            )

        def baseline_after(case: Case) -> Figures:
            return measure(
                f"baseline_after_{case.key}",
                f"baseline after {case.title}",
                routes_file,
                baseline.base_url,
                opts,
                folder,
                user_class="Baseline",
                roots=baseline.roots,
            )

        wanted = [case for case in ROUTE_CASES if _wanted(opts, case.key)]
        figures += between_baselines(wanted, figures[0], route_case, baseline_after)
        if _wanted(opts, "login_burst"):
            figures += measure_login_burst(opts, deployment, routes_file, folder, fixture_env, idle)
        if _wanted(opts, "mix"):
            figures.append(
                measure("mix", "journey mix through nginx", LOCUSTFILES / "journeys.py",
                        base, opts, folder, env=mix_journey.environment(),
                        deployment=deployment, idle=idle, profile_service="location")
            )  # fmt: skip
            if mix_journey.itinerary_every_s >= NEVER_S:
                figures[-1].notes.append("no itinerary requests: ai-service is not deployed")
        figures.append(
            measure("baseline_again", "baseline again (drift = noise)", routes_file,
                    baseline.base_url, opts, folder, user_class="Baseline",
                    roots=baseline.roots)
        )  # fmt: skip
    if _wanted(opts, "ai"):
        if "ai" in deployment.endpoints.services:
            ai = measure_ai(deployment, fixture.accounts, idle, folder, concurrency=AI_CONCURRENCY)
        else:
            ai_note = "ai-service is not deployed"
    return figures, ai, ai_note, idle


def between_baselines(
    cases: Sequence[Case],
    first_baseline: Figures,
    measure_case: Callable[[Case], Figures],
    measure_baseline_after: Callable[[Case], Figures],
) -> list[Figures]:
    """The route cases in order, each with a throughput target followed by a baseline run, so
    that its ratio is taken against the baseline just before and just after it: on a shared
    machine the speed drifts by tens of percent within minutes (every process class, the load
    generator included, cost 40 % more a request during two cases of one run than during the
    cases around them), and a baseline minutes away would judge the machine, not the route."""
    figures: list[Figures] = []
    before = first_baseline
    for case in cases:
        figure = measure_case(case)
        figures.append(figure)
        if case.min_ratio is None:
            continue
        after = measure_baseline_after(case)
        figure.baseline_beside_rps = [before.rps, after.rps]
        before = after
    return figures


def _ai_cpu_row(ai: AiBenchResult | None) -> list[tuple[str, int, dict[str, float]]]:
    """The AI case's row of the CPU table: n = generations, ms per generation."""
    if ai is None or not ai.cpu_ms_per_generation:
        return []
    title = f"AI generation e2e ×{ai.concurrency} (per generation)"
    return [(title, len(ai.generations), ai.cpu_ms_per_generation)]


def _run_mode(opts: Options, mode: str, folder: Path) -> ModeRun:
    directory = opts.deploy_dir_of(mode)
    deployment = ensure_deployment(directory, mode, dict(opts.service_env))
    try:
        figures, ai, ai_note, idle = _measure_all(opts, deployment, folder / mode)
    finally:
        if deployment.deployed_here and not opts.keep:
            deployment.platform.down()
        elif deployment.deployed_here:
            console.print(f"the benchmark deployment stays up in {directory} (--keep)")
    run = ModeRun(mode, deployment.replicas(), figures, ai, ai_note, baseline_rps(figures), idle)
    for f in figures:
        f.ratio = ratio_of(f, run.baseline_rps)
    run.checks = evaluate(figures, ai, ai_note)
    return run


def run_bench(opts: Options) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = opts.out_root / stamp
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    runs: list[ModeRun] = []
    report_path = opts.out_root / f"{stamp}.json"
    report: dict[str, Any] = {}
    for mode in opts.modes:
        run = _run_mode(opts, mode, folder)
        runs.append(run)
        # Written and printed after every mode: a later mode that fails leaves these behind.
        report = build_report(
            opts.settings(), runs, started, load_before, complete=len(runs) == len(opts.modes)
        )
        report_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        label = f"{run.mode} replicas {run.replicas}"
        print_bench(run.figures, run.checks, run.ai, run.ai_note, run.baseline_rps, label)
        print_cpu(
            out,
            f"CPU per request ({label})",
            [(f.title, f.requests, f.cpu_ms_per_request) for f in run.figures]
            + _ai_cpu_row(run.ai),
        )
    out.print(str(report_path))
    return report


# --------------------------------------------------------------------------- command line


def service_setting(text: str) -> tuple[str, str]:
    """`TRIPGEN_NAME=VALUE` → (name, value); anything else is refused by name."""
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("TRIPGEN_") or not name[8:].replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not TRIPGEN_NAME=VALUE (a service setting, e.g. "
            "TRIPGEN_USER_PASSWORD_HASH_NICE=0)"
        )
    return name.upper(), value


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
        action=argparse.BooleanOptionalAction,
        default=True,
        help="profile one replica of each route's service with py-spy: flame graph and top "
        "frames per case (default on)",
    )
    parser.add_argument(
        "--replicas",
        choices=(*REPLICA_MODES, "both"),
        default="prod",
        help="prod: the profile's replica counts, one worker each (default); one: one replica "
        "per service with a worker per core; both: each in turn, every case against each",
    )
    parser.add_argument(
        "--service-env",
        type=service_setting,
        action="append",
        default=[],
        metavar="TRIPGEN_NAME=VALUE",
        help="a setting for every replica of the benchmark deployment, to measure its effect "
        "(e.g. TRIPGEN_USER_PASSWORD_HASH_NICE=0); repeatable",
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
        modes=REPLICA_MODES if args.replicas == "both" else (args.replicas,),
        service_env=tuple(args.service_env),
    )
    if opts.py_spy and find_py_spy() is None:
        parser.error(
            "py-spy is missing (the harness extras install it: pip install -e '.[harness]'); "
            "or run with --no-py-spy"
        )
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

"""`python -m scenarios.bench` (`nox -s bench`): throughput and latency of the key routes and the
journey mix on the local prod-sim, as ratios to a trivial app served the same way, in one run.

    python -m scenarios.bench [--duration 20s | --quick] [--users 50] [--processes K]
                              [--only CASE …] [--py-spy] [--keep] [--run-dir DIR]

Order: deploy prod on `local` in the benchmark's own run directory (`.tripgen/bench/deployment`,
rate limit off: zero-wait users would otherwise hit the 100 requests/min per user), register
accounts and warm the caches (`bench_fixture`), then — each a headless locust run with
`--reset-stats` (the ramp is not measured) and zero think time — the baseline
(`bench_baseline`), every route case, the weighted journey mix through nginx, the baseline
again (its drift shows the noise of a shared machine), and AI generation end to end at 10
concurrent generations (`bench_ai`). Prints requests/s, p50/p95/p99, the ratio to the baseline
and PASS/MISS per issue-7 target; writes `.tripgen/bench/<stamp>.json` and keeps each run's
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
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scenarios.bench_ai import AiBenchResult, run_ai_bench
from scenarios.bench_baseline import BaselineError, BaselineServer
from scenarios.bench_fixture import FixtureError, build_fixture
from scenarios.bench_pyspy import ProfileSummary, PySpyRecorder, find_py_spy
from scenarios.cli import parse_duration, positive_int
from scenarios.gate import git_state
from scenarios.locustfiles.settings import BENCH_FIXTURE_ENV, JourneySettings
from scenarios.report import LOCUST_PROCESS_CEILING_RPS
from scenarios.results import SAMPLES_FILE, LoadResults, Machine
from scenarios.runner import LoadRunError, new_run_dir, run_load
from scenarios.usage import MachineCpu, UsageMeter, record_usage
from simulation.platforms.base import DeploymentStatus, Endpoints, PlatformError
from simulation.platforms.local import LocalPlatform
from simulation.state import load_state, run_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILES = Path(__file__).resolve().parent / "locustfiles"
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
class Case:
    key: str
    title: str
    user_class: str
    service: str | None  # whose replica py-spy samples
    min_ratio: float | None  # issue 7: route throughput ≥ this × the baseline's


ROUTE_CASES: tuple[Case, ...] = (
    Case("nearby_cached", "cached place search (nearby)", "CachedNearby", "location", 0.6),
    Case("search_text", "place text search (uncached)", "PlaceSearch", "location", None),
    Case("trip_create", "trip creation", "TripCreate", "trip", 0.35),
    Case("profile_read", "profile read", "ProfileRead", "user", 0.4),
    Case("login", "login (argon2id)", "Login", "user", 0.1),
)
CASE_KEYS = ("baseline", *(c.key for c in ROUTE_CASES), "mix", "ai")

# issue 7 › Benchmark: the journey mix through nginx, and AI generation end to end.
MIX_MIN_RPS = 1_000.0
MIX_MAX_P95_MS = 100.0
AI_CONCURRENCY = 10
AI_MAX_P95_MS = 1_000.0


@dataclass
class Figures:
    key: str
    title: str
    requests: int
    failures: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    users: int
    processes: int
    run_folder: str
    ratio: float | None = None
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    machine_cpu: dict[str, float] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Check:
    name: str
    target: str
    measured: str
    passed: bool | None  # None: not measured


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


def run_bench(opts: Options) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = opts.out_root / stamp
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    deployment = ensure_deployment(opts.deploy_dir)
    figures: list[Figures] = []
    ai: AiBenchResult | None = None
    ai_note = ""
    try:
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
                ai_note = "ai-service is not deployed (services/ai has no app yet)"
    finally:
        if deployment.deployed_here and not opts.keep:
            deployment.platform.down()
        elif deployment.deployed_here:
            console.print(f"the benchmark deployment stays up in {opts.deploy_dir} (--keep)")
    baseline_rps = _baseline_rps(figures)
    for f in figures:
        f.ratio = f.rps / baseline_rps if baseline_rps else None
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
        "baseline_rps": baseline_rps,
        "cases": [asdict(f) for f in figures],
        "ai": _ai_dict(ai, ai_note),
        "checks": [asdict(c) for c in checks],
    }
    report_path = opts.out_root / f"{stamp}.json"
    report_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_bench(figures, checks, ai, ai_note, baseline_rps)
    out.print(str(report_path))
    return report


def _baseline_rps(figures: Sequence[Figures]) -> float | None:
    runs = [f.rps for f in figures if f.key in ("baseline", "baseline_again") and f.rps > 0]
    return sum(runs) / len(runs) if runs else None


def _ai_dict(ai: AiBenchResult | None, note: str) -> dict[str, Any]:
    if ai is None:
        return {"measured": False, "note": note}
    return {
        "measured": True,
        "concurrency": ai.concurrency,
        "generations": len(ai.generations),
        "failed": ai.failed,
        "p50_ms": ai.percentile(0.50),
        "p95_ms": ai.percentile(0.95),
        "p99_ms": ai.percentile(0.99),
        "wall_s": ai.wall_s,
        "statuses": sorted({g.status for g in ai.generations}),
    }


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return "failed" if value == float("inf") else f"{value:,.0f} ms"


def evaluate(figures: Sequence[Figures], ai: AiBenchResult | None, ai_note: str) -> list[Check]:
    """issue 7's targets, each PASS (True), MISS (False) or not measured (None)."""
    by_key = {f.key: f for f in figures}
    checks: list[Check] = []
    for case in ROUTE_CASES:
        f = by_key.get(case.key)
        if case.min_ratio is None or f is None:
            continue
        ratio = f.ratio or 0.0
        checks.append(
            Check(
                f"{case.title} throughput",
                f"≥ {case.min_ratio:g} × baseline, no errors",
                f"{ratio:.2f} × ({f.rps:,.0f} req/s), {f.failures} errors",
                ratio >= case.min_ratio and f.failures == 0,
            )
        )
    mix = by_key.get("mix")
    if mix is not None:
        checks += [
            Check("journey mix throughput", f"≥ {MIX_MIN_RPS:,.0f} req/s",
                  f"{mix.rps:,.0f} req/s", mix.rps >= MIX_MIN_RPS),
            Check("journey mix p95", f"< {MIX_MAX_P95_MS:g} ms", _ms(mix.p95_ms),
                  mix.p95_ms is not None and mix.p95_ms < MIX_MAX_P95_MS),
            Check("journey mix errors", "none", f"{mix.failures} of {mix.requests:,}",
                  mix.failures == 0),
        ]  # fmt: skip
    if ai is not None:
        p95 = ai.percentile(0.95)
        checks.append(
            Check(
                f"AI generation end to end p95 at {ai.concurrency} concurrent",
                f"< {AI_MAX_P95_MS:,.0f} ms",
                f"{_ms(p95)} ({len(ai.generations)} generations, {ai.failed} failed)",
                p95 is not None and p95 < AI_MAX_P95_MS,
            )
        )
    else:
        checks.append(
            Check(
                f"AI generation end to end p95 at {AI_CONCURRENCY} concurrent",
                f"< {AI_MAX_P95_MS:,.0f} ms",
                ai_note or "not run (--only)",
                None,
            )
        )
    return checks


def print_bench(
    figures: Sequence[Figures],
    checks: Sequence[Check],
    ai: AiBenchResult | None,
    ai_note: str,
    baseline_rps: float | None,
) -> None:
    table = Table(title="TripGen benchmark (local prod-sim, zero think time)")
    for column in ("case", "req/s", "p50", "p95", "p99", "errors", "× baseline", "CPU busy/steal"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for f in figures:
        cpu = f.machine_cpu
        table.add_row(
            f.title,
            f"{f.rps:,.0f}",
            _ms(f.p50_ms),
            _ms(f.p95_ms),
            _ms(f.p99_ms),
            f"{f.failures:,}",
            f"{f.ratio:.2f}" if f.ratio is not None else "—",
            f"{cpu.get('busy', 0):.0%} / {cpu.get('steal', 0):.0%}",
        )
    if ai is not None:
        table.add_row(
            f"AI generation e2e ×{ai.concurrency}",
            f"{len(ai.generations) / ai.wall_s:,.1f} gen/s",
            _ms(ai.percentile(0.5)),
            _ms(ai.percentile(0.95)),
            _ms(ai.percentile(0.99)),
            f"{ai.failed}",
            "—",
            "",
        )
    out.print(table)
    if baseline_rps:
        out.print(f"baseline: {baseline_rps:,.0f} req/s (mean of the runs before and after)")
    verdicts = Table(title="issue 7 targets")
    for column in ("target", "wanted", "measured", "verdict"):
        verdicts.add_column(column)
    for c in checks:
        verdict = (
            "[yellow]NOT RUN[/]" if c.passed is None
            else "[green]PASS[/]" if c.passed else "[red]MISS[/]"
        )  # fmt: skip
        verdicts.add_row(c.name, c.target, escape(c.measured), verdict)
    out.print(verdicts)
    for f in figures:
        for note in f.notes:
            out.print(f"[dim]{f.title}: {escape(note)}[/]")
        if f.profile and "self" in f.profile:
            top = ", ".join(f"{frame} {share:.0%}" for frame, share in f.profile["self"][:5])
            out.print(f"[dim]{f.title} — py-spy, on CPU: {escape(top)}[/]")


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.bench",
        description="Key routes and the journey mix on the local prod-sim, as ratios to a "
        "trivial FastAPI app served the same way (issue 7 targets).",
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

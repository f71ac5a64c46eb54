"""`python -m scenarios.cli COMMAND` — what `nox -s load` and `nox -s sla-check` run.

    load [--profile dev|prod] [--users N] [--spawn-rate R] [--duration 2m] [--quick]
         [--platform local|kind|auto] [--processes K] [--wait MIN,MAX] [--ui]
        The user journeys against the running deployment (state.json) → a timestamped folder
        under .tripgen/runs/ with results.json, locust's CSV/JSON/HTML and its log.

    sla-check [--profile prod|dev|phase2|phase3] [--platform local|kind|auto] [--users N]
              [--duration D] [--quick] [--with-chaos [--experiment NAME…]]
              [--no-data allow|fail] [--down-after]
        Deploys the spec's profile unless it is up, runs the journeys with the steady prober,
        judges every objective, prints the table, writes report.md/report.html and the gate
        file (<run dir>/gate/<spec>.json, read by deploy-aks).

Exit status: 0 done (sla-check: every gating objective met), 1 an objective failed, 2 a harness
error (nothing deployed, a tool missing, locust or the locustfile broke) — always one `error:`
line that says what to do, never a traceback; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scenarios.judge import NoDataPolicy, exit_code, judge, print_verdicts
from scenarios.locust_csv import LocustOutputError
from scenarios.locustfiles.settings import JourneySettings, JourneySettingsError, parse_wait
from scenarios.probe import ProbeTarget
from scenarios.report import write_report
from scenarios.results import (
    CSV_PREFIX,
    RESULTS_FILE,
    SAMPLES_FILE,
    ChaosEvent,
    LoadResults,
    build_results,
)
from scenarios.runner import LOG_FILE, LoadRunError, new_run_dir, run_load
from scenarios.samples import SAMPLES_ENV
from scenarios.spec import SpecError, available_specs, load_spec
from scenarios.usage import UsageMeter, record_usage
from simulation.platforms.base import DeploymentStatus, Endpoints, Platform, PlatformError
from simulation.platforms.runner import CommandFailed
from simulation.platforms.select import CHOICES, choose_platform, default_runner, open_platform
from simulation.profiles import REPLICAS, SERVICE_PATHS
from simulation.state import StateError, load_state, run_dir
from simulation.supervisor import SupervisorError

REPO_ROOT = Path(__file__).resolve().parent.parent
JOURNEYS = Path(__file__).resolve().parent / "locustfiles" / "journeys.py"
QUICK_DURATION_S = 45.0
# How long a chaos run may last at most before the load is stopped regardless.
CHAOS_BUDGET_S = 30 * 60.0
# Load continues this long after the last experiment so recovery shows in the probes.
CHAOS_COOLDOWN_S = 15.0
UI_ADDRESS = ("127.0.0.1", 8089)
RATE_LIMIT_PER_MINUTE = 100  # SPEC.md (002): per user; the services' default

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


class HarnessError(RuntimeError):
    """The run could not be made or judged; the message says what to do (exit 2)."""


@dataclass(frozen=True)
class Scale:
    users: int
    duration_s: float


# Every new user signs up and logs in: two argon2 hashes of ~30 ms CPU each. Arriving at 2 a
# second keeps that near a tenth of a core; a burst would make the ramp, not the steady state,
# set the run's p95 on a 2-core machine.
DEFAULT_SPAWN_RATE = 2.0
# Laptop-sized defaults per deployed profile: SPEC.md's dev target is 6 concurrent users; prod
# runs 50 users — enough to exercise every route concurrently, not the 50,000 of SPEC.md.
DEFAULT_SCALE = {"dev": Scale(users=6, duration_s=60.0), "prod": Scale(users=50, duration_s=120.0)}


# --------------------------------------------------------------------------- argument types


_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """ "2m" → 120, "1m30s" → 90, "45s" or "45" → 45, "1h" → 3600."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or match is None:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use e.g. 45s, 2m, 1m30s or 1h (or plain seconds)"
        )
    seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + float(match["s"] or 0.0)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration {text!r} must be longer than 0 s")
    return seconds


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def wait_range(text: str) -> tuple[float, float]:
    try:
        return parse_wait(text)
    except JourneySettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --------------------------------------------------------------------------- the deployment


@dataclass(frozen=True)
class Deployment:
    platform: Platform
    profile: str
    endpoints: Endpoints
    status: DeploymentStatus

    @property
    def replicas(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for replica in self.status.replicas:
            counts[replica.service] = counts.get(replica.service, 0) + 1
        return counts


def _check_ready(status: DeploymentStatus) -> None:
    if not status.replicas:
        raise HarnessError(f"the {status.platform} deployment has no replicas; redeploy it")
    waiting = [r.replica for r in status.replicas if not r.ready]
    if len(waiting) == len(status.replicas):
        raise HarnessError(
            f"no replica of the {status.platform} deployment is ready; see `nox -s status`"
        )
    if waiting:
        console.print(f"[yellow]warning:[/] not ready: {', '.join(waiting)} (running anyway)")


def attach(directory: Path | None, requested_platform: str, profile: str | None) -> Deployment:
    """The deployment recorded in state.json, checked against what the command asked for."""
    state = load_state(run_dir(directory))
    if state is None:
        raise HarnessError(
            "nothing is deployed; run `nox -s deploy-prod-sim` (or deploy-dev-sim) first, "
            "or `nox -s sla-check`, which deploys"
        )
    if requested_platform != "auto" and requested_platform != state.platform:
        raise HarnessError(
            f"the deployment runs on {state.platform!r}, not {requested_platform!r}; "
            f"drop --platform or stop it with `nox -s down`"
        )
    if profile is not None and profile != state.profile:
        raise HarnessError(
            f"profile {state.profile!r} is deployed, not {profile!r}; run `nox -s down` and "
            f"deploy {profile!r}, or drop --profile"
        )
    platform = open_platform(state.platform, directory=directory, console=console)
    status = platform.status()
    _check_ready(status)
    return Deployment(platform, state.profile, platform.endpoints(), status)


def attach_or_deploy(
    directory: Path | None, requested_platform: str, profile: str
) -> tuple[Deployment, bool]:
    """The running deployment of `profile`, or a new one; (deployment, deployed by us)."""
    if load_state(run_dir(directory)) is not None:
        return attach(directory, requested_platform, profile), False
    choice = choose_platform(requested_platform, default_runner())
    console.print(
        f"nothing deployed: deploying {profile} on [bold]{choice.name}[/] ({choice.reason})"
    )
    platform = open_platform(choice.name, directory=directory, console=console)
    endpoints = platform.deploy(profile)
    status = platform.status()
    _check_ready(status)
    return Deployment(platform, profile, endpoints, status), True


def probe_targets(endpoints: Endpoints) -> list[ProbeTarget]:
    """The steady prober's targets, through the gateway like a user's request.

    Per deployed service `/api/<service>/openapi.json` (no token needed: gateway → a live
    replica), plus one key route, `GET /api/users/me` as a probe account, which reads the
    session (Redis, else PostgreSQL) and the user row (PostgreSQL) on every call — so a
    database outage shows in availability, not only in the error rate. The probe token lives
    for the services' access-token lifetime (15 min by default), longer than a default run.
    """
    targets = [
        ProbeTarget(
            name=f"{service} via gateway",
            url=f"{endpoints.services.get(service, endpoints.base_url).rstrip('/')}"
            f"{SERVICE_PATHS[service]}/openapi.json",
        )
        for service in SERVICE_PATHS
        if service in endpoints.services
    ]
    token = _probe_account_token(endpoints.base_url)
    if token:
        targets.append(
            ProbeTarget(
                name="profile read (key route)",
                url=f"{endpoints.base_url.rstrip('/')}/api/users/me",
                headers={"Authorization": f"Bearer {token}"},
            )
        )
    return targets


def _probe_account_token(base_url: str) -> str | None:
    """Register and log in a probe account; None (with a warning) when the API refuses."""
    email = f"prober-{os.getpid()}-{int(time.time())}@probe.tripgen.dev"
    body = {"email": email, "password": f"probe-{os.urandom(6).hex()}-7", "name": "SLA prober"}
    base = base_url.rstrip("/")
    try:
        with httpx.Client(timeout=10) as client:
            client.post(f"{base}/api/users/register", json=body).raise_for_status()
            login = client.post(
                f"{base}/api/users/login",
                json={"email": email, "password": body["password"]},
            )
            login.raise_for_status()
            return str(login.json()["access_token"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        console.print(f"[yellow]prober: no key-route target ({exc}); probing health only[/]")
        return None


# --------------------------------------------------------------------------- one measured run


@dataclass(frozen=True)
class LoadPlan:
    profile: str
    users: int
    spawn_rate: float
    duration_s: float
    processes: int
    journey: JourneySettings


def _locust_env(journey: JourneySettings) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **journey.environment(),
        # locust imports the locustfile in its own process: the repository must be importable.
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
    }


def measured_run(
    deployment: Deployment,
    plan: LoadPlan,
    folder: Path,
    *,
    probes: Sequence[ProbeTarget] = (),
    stop: threading.Event | None = None,
) -> LoadResults:
    """The journeys under locust with CPU and cache sampled alongside; the saved results."""
    console.print(
        f"load: {plan.users} users (spawn {plan.spawn_rate:g}/s) for {plan.duration_s:g} s "
        f"against {deployment.endpoints.base_url} ({deployment.status.platform}, profile "
        f"{deployment.profile}) → {folder}"
    )
    meter = UsageMeter(
        deployment.platform,
        deployment.endpoints,
        folder / SAMPLES_FILE,
        max_duration_s=plan.duration_s + 600,
    ).start()
    try:
        with console.status(f"locust running ({plan.duration_s:g} s) …"):
            results_path = run_load(
                JOURNEYS,
                deployment.endpoints.base_url,
                profile=deployment.profile,
                platform=deployment.status.platform,
                users=plan.users,
                spawn_rate=plan.spawn_rate,
                duration_s=plan.duration_s,
                run_dir=folder,
                replicas=deployment.replicas,
                processes=plan.processes,
                probe_targets=probes,
                env=_locust_env(plan.journey),
                stop=stop,
            )
    finally:
        usage = meter.stop()
    return record_usage(results_path, usage)


def print_summary(results: LoadResults, folder: Path) -> None:
    t = results.totals
    table = Table(title=f"{results.profile} on {results.platform}: {results.users} users")
    for column in ("requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="right")

    def ms(value: float | None) -> str:
        return "—" if value is None else f"{value:,.0f}"

    table.add_row(
        f"{t.requests:,}",
        f"{t.failures:,}",
        f"{t.rps:,.1f}",
        ms(t.p50_ms),
        ms(t.p95_ms),
        ms(t.p99_ms),
    )
    console.print(table)
    for name, metric in results.custom_metrics.items():
        s = metric.summary
        shown = (
            f"mean {s.mean:.1%}" if metric.unit == "ratio" and s.mean is not None
            else f"p95 {s.p95:,.0f} {metric.unit}" if s.p95 is not None else "no value"
        )  # fmt: skip
        console.print(f"{name}: {s.count} samples, {s.failed} failed, {shown}")
    for note in results.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    out.print(str(folder / RESULTS_FILE))


def _harness_failures(results: LoadResults) -> str | None:
    if not results.exceptions:
        return None
    total = sum(x.count for x in results.exceptions)
    first = results.exceptions[0].message
    return f"the locustfile raised {total} exception(s), first: {first}"


# --------------------------------------------------------------------------- commands


def _plan(args: argparse.Namespace, profile: str) -> LoadPlan:
    scale = DEFAULT_SCALE[profile]
    users = args.users or scale.users
    duration = args.duration or (QUICK_DURATION_S if args.quick else scale.duration_s)
    journey = JourneySettings.from_env()
    if args.wait is not None:
        journey = JourneySettings(args.wait, journey.itinerary_every_s, journey.ai_deadline_s)
    if args.processes > users:
        raise HarnessError(f"--processes {args.processes} exceeds --users {users}")
    return LoadPlan(
        profile=profile,
        users=users,
        spawn_rate=args.spawn_rate or float(min(users, DEFAULT_SPAWN_RATE)),
        duration_s=duration,
        processes=args.processes,
        journey=journey,
    )


def warn_if_over_rate_limit(directory: Path | None, plan: LoadPlan) -> None:
    """Short think times exceed the per-user limit (100/min) unless the deployment turned it
    off; say so before the run rather than leave the reader to wonder about 429s."""
    low, high = plan.journey.wait_s
    # ~1.3 requests a task, plus ~20 ms a request: the journeys' own average.
    per_minute = 60 * 1.3 / ((low + high) / 2 + 0.02 * 1.3)
    if per_minute <= RATE_LIMIT_PER_MINUTE:
        return
    state = load_state(run_dir(directory))
    extra_env = state.details.get("plan", {}).get("extra_env", {}) if state else {}
    if extra_env.get("TRIPGEN_RATE_LIMIT_PER_MINUTE") == "0":
        return
    console.print(
        f"[yellow]warning:[/] think time {low:g}–{high:g} s makes ~{per_minute:,.0f} requests/min "
        f"per user, over the {RATE_LIMIT_PER_MINUTE}/min limit: expect 429s unless the "
        "deployment runs with TRIPGEN_RATE_LIMIT_PER_MINUTE=0 (deploy --env …)"
    )


def cmd_load(args: argparse.Namespace) -> int:
    deployment = attach(args.run_dir, args.platform, args.profile)
    plan = _plan(args, deployment.profile)
    warn_if_over_rate_limit(args.run_dir, plan)
    folder = new_run_dir(deployment.profile, run_dir(args.run_dir) / "runs")
    if args.ui:
        return interactive_run(deployment, plan, folder)
    results = measured_run(deployment, plan, folder)
    print_summary(results, folder)
    problem = _harness_failures(results)
    if problem:
        raise HarnessError(f"{problem}; see {folder / LOG_FILE}")
    return 0


def interactive_run(deployment: Deployment, plan: LoadPlan, folder: Path) -> int:
    """locust with its web UI (no --headless): the user starts and stops the test in the
    browser and quits with Ctrl-C; whatever ran is then kept like a headless run's output."""
    prefix = folder / CSV_PREFIX
    host, port = UI_ADDRESS
    command = [
        sys.executable, "-m", "locust", "-f", str(JOURNEYS),
        "--host", deployment.endpoints.base_url,
        "--web-host", host, "--web-port", str(port),
        "--users", str(plan.users), "--spawn-rate", f"{plan.spawn_rate:g}",
        "--csv", str(prefix), "--csv-full-history", "--json-file", str(prefix),
        "--html", f"{prefix}.html",
    ]  # fmt: skip
    if plan.processes > 1:
        command += ["--processes", str(plan.processes)]
    env = {**os.environ, **_locust_env(plan.journey), SAMPLES_ENV: str(folder / SAMPLES_FILE)}
    console.print(
        f"locust web UI on [bold]http://{host}:{port}[/] against {deployment.endpoints.base_url}"
        " — start the test there; Ctrl-C here ends it and keeps the results"
    )
    meter = UsageMeter(deployment.platform, deployment.endpoints, folder / SAMPLES_FILE).start()
    started = time.time()
    with (folder / LOG_FILE).open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            process.wait()
        except KeyboardInterrupt:
            _stop_locust(process)
    usage = meter.stop()
    if not Path(f"{prefix}_stats.csv").exists():
        raise HarnessError(
            f"locust wrote no statistics (was a test started?); log {folder / LOG_FILE}"
        )
    try:
        results = build_results(
            prefix,
            profile=deployment.profile,
            platform=deployment.status.platform,
            users=plan.users,
            duration_s=time.time() - started,
            spawn_rate=plan.spawn_rate,
            host=deployment.endpoints.base_url,
            replicas=deployment.replicas,
            processes=plan.processes,
            notes=["interactive run (locust web UI): users and duration were set in the UI"],
        )
    except LocustOutputError as exc:
        raise HarnessError(f"{exc}; log {folder / LOG_FILE}") from exc
    results.save(folder / RESULTS_FILE)
    print_summary(record_usage(folder / RESULTS_FILE, usage), folder)
    return 0


def _stop_locust(process: subprocess.Popen[bytes]) -> None:
    """End an interactive locust so that it still writes its files. Ctrl-C in a terminal has
    reached it already; a SIGTERM to this command (or a job without a terminal) has not, so it
    gets its own SIGINT unless it is on its way out."""
    for signum, grace_s in ((None, 2.0), (signal.SIGINT, 30.0), (signal.SIGTERM, 15.0)):
        if signum is not None:
            process.send_signal(signum)
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()


def cmd_sla_check(args: argparse.Namespace) -> int:
    spec = load_spec(args.profile)
    deployment, deployed_here = attach_or_deploy(args.run_dir, args.platform, spec.deploys)
    try:
        plan = _plan(args, spec.deploys)
        warn_if_over_rate_limit(args.run_dir, plan)
        folder = new_run_dir(spec.profile, run_dir(args.run_dir) / "runs")
        probes = probe_targets(deployment.endpoints)
        if args.with_chaos:
            results = _run_with_chaos(deployment, plan, folder, probes, args.experiment)
        else:
            results = measured_run(deployment, plan, folder, probes=probes)
        print_summary(results, folder)
        verdicts = judge(results, spec)
        policy = NoDataPolicy(args.no_data)
        print_verdicts(
            verdicts, title=f"SLA {spec.profile} — {spec.title}", policy=policy, console=out
        )
        paths = write_report(
            results,
            verdicts,
            folder,
            spec=spec,
            results_path=folder / RESULTS_FILE,
            policy=policy,
            gate_root=run_dir(args.run_dir) / "gate",
        )
        out.print(f"report: {paths.markdown}")
        out.print(f"report: {paths.html}")
        out.print(f"gate:   {paths.gate}")
        problem = _harness_failures(results)
        if problem:
            raise HarnessError(f"{problem}; the verdicts above are not trustworthy")
        return exit_code(verdicts)
    finally:
        if deployed_here and args.down_after:
            console.print("stopping the deployment this sla-check started (--down-after)")
            deployment.platform.down()
        elif deployed_here:
            console.print("the deployment stays up for more runs; stop it with `nox -s down`")


# --------------------------------------------------------------------------- chaos


def _chaos_runner() -> Callable[..., Any]:
    try:
        from chaos.runner import run_experiments
    except ImportError as exc:
        raise HarnessError(
            f"--with-chaos needs chaos.runner.run_experiments (issue 8), which is not "
            f"available here ({exc}); run without --with-chaos"
        ) from exc
    return run_experiments


def _run_with_chaos(
    deployment: Deployment,
    plan: LoadPlan,
    folder: Path,
    probes: Sequence[ProbeTarget],
    experiments: Sequence[str],
) -> LoadResults:
    """The journeys and the prober run from before the first experiment until a cool-down after
    the last; the chaos runner records its events beside the results (chaos_events.jsonl)."""
    run_experiments = _chaos_runner()
    stop = threading.Event()
    outcome: dict[str, Any] = {}
    long_plan = LoadPlan(
        plan.profile, plan.users, plan.spawn_rate, CHAOS_BUDGET_S, plan.processes, plan.journey
    )

    def load() -> None:
        try:
            outcome["results"] = measured_run(
                deployment, long_plan, folder, probes=probes, stop=stop
            )
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=load, name="sla-load", daemon=True)
    worker.start()
    returned: Any = None
    try:
        # A steady state before the first fault: the load's own warm-up, then the experiments.
        worker.join(timeout=min(plan.duration_s, 30.0))
        if not worker.is_alive():
            raise HarnessError(f"the load ended before the experiments began: {outcome}")
        returned = run_experiments(
            list(experiments),
            profile=deployment.profile,
            platform=deployment.status.platform,
            results_path=folder / RESULTS_FILE,
            background_load=False,
        )
        time.sleep(CHAOS_COOLDOWN_S)
    finally:
        stop.set()
        worker.join(timeout=CHAOS_BUDGET_S + 120)
    if "error" in outcome:
        raise outcome["error"]
    results: LoadResults = outcome["results"]
    known = {(e.name, e.started_at) for e in results.chaos_events}
    extra = [
        e
        for e in (returned or [])
        if isinstance(e, ChaosEvent) and (e.name, e.started_at) not in known
    ]
    if extra:
        results.add_chaos_events(extra)
        results.save(folder / RESULTS_FILE)
    return results


# --------------------------------------------------------------------------- parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--platform",
        default="auto",
        choices=CHOICES,
        help="where the deployment runs (auto: the recorded one, else kind "
        "where Docker and kind exist, else local)",
    )
    parser.add_argument(
        "--users",
        type=positive_int,
        default=None,
        help="concurrent simulated users (default: 6 dev, 50 prod)",
    )
    parser.add_argument(
        "--spawn-rate",
        type=positive_float,
        default=None,
        metavar="R",
        help="users started per second (default: min(users, 2))",
    )
    parser.add_argument(
        "--duration",
        type=parse_duration,
        default=None,
        metavar="D",
        help="run time, e.g. 45s, 2m (default: 1m dev, 2m prod)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a {QUICK_DURATION_S:g} s run (unless --duration is given)",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="K",
        help="locust processes; one tops out near 4,000 req/s",
    )
    parser.add_argument(
        "--wait",
        type=wait_range,
        default=None,
        metavar="MIN,MAX",
        help="think time between a user's tasks in seconds (default 1,3; 0 "
        "needs the rate limit off: TRIPGEN_RATE_LIMIT_PER_MINUTE=0)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.cli",
        description="Load the TripGen deployment with user journeys and judge the SLA.",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="run directory with state.json; runs go to <run-dir>/runs "
        "(default: $TRIPGEN_RUN_DIR or .tripgen)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = sub.add_parser("load", help="run the journeys against the running deployment")
    load.add_argument(
        "--profile",
        default=None,
        choices=sorted(REPLICAS),
        help="must match the deployed profile (default: the deployed one)",
    )
    _common(load)
    load.add_argument(
        "--ui",
        action="store_true",
        help=f"locust's web UI on http://{UI_ADDRESS[0]}:{UI_ADDRESS[1]} instead of a headless run",
    )
    load.set_defaults(handler=cmd_load)

    sla = sub.add_parser("sla-check", help="deploy unless up, load, probe, judge, report")
    sla.add_argument(
        "--profile",
        default="prod",
        choices=available_specs(),
        help="the SLA spec (scenarios/sla/<profile>.yaml) to judge against",
    )
    _common(sla)
    sla.add_argument(
        "--with-chaos",
        action="store_true",
        help="run chaos experiments during the load (chaos.runner)",
    )
    sla.add_argument(
        "--experiment",
        action="append",
        default=None,
        metavar="NAME",
        help="with --with-chaos: an experiment to run (repeatable; default all)",
    )
    sla.add_argument(
        "--no-data",
        default=NoDataPolicy.FAIL.value,
        choices=[p.value for p in NoDataPolicy],
        help="does NO-DATA on a gating objective close the gate (default fail)",
    )
    sla.add_argument(
        "--down-after",
        action="store_true",
        help="stop the deployment afterwards if this command started it",
    )
    sla.set_defaults(handler=cmd_sla_check)
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "experiment", None) and not args.with_chaos:
        parser.error("--experiment needs --with-chaos")
    if args.command == "sla-check" and args.experiment is None:
        args.experiment = ["all"]
    if args.quick and args.duration is not None:
        parser.error("--quick and --duration are alternatives; give one")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (CI cancelling the job) ends like Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started as a background job: SIGINT is ignored and locust would inherit that, so the
        # clean stop (SIGINT → locust writes every file) would never reach it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return int(args.handler(args))
    except (
        HarnessError,
        LoadRunError,
        SpecError,
        PlatformError,
        StateError,
        CommandFailed,
        SupervisorError,
        JourneySettingsError,
    ) as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())

"""One measured run: the journeys under locust with CPU and cache sampled alongside, its plan
from the command's arguments, and the summary printed after it."""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from runs.results import RESULTS_FILE, SAMPLES_FILE, LoadResults
from scenarios.cli.args import DEFAULT_SCALE, DEFAULT_SPAWN_RATE
from scenarios.cli.common import (
    JOURNEYS,
    QUICK_DURATION_S,
    RATE_LIMIT_PER_MINUTE,
    REPO_ROOT,
    HarnessError,
    console,
    out,
)
from scenarios.cli.deployment import Deployment
from scenarios.load.locustfiles.settings import JourneySettings
from scenarios.load.probe import ProbeTarget
from scenarios.load.runner import run_load
from scenarios.load.usage import UsageMeter, record_usage
from simulation.state import load_state, run_dir


@dataclass(frozen=True)
class LoadPlan:
    profile: str
    users: int
    spawn_rate: float
    duration_s: float
    processes: int
    journey: JourneySettings


def locust_env(journey: JourneySettings) -> dict[str, str]:
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
                env=locust_env(plan.journey),
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
        refused = f", {s.refused} refused" if s.refused else ""
        console.print(f"{name}: {s.count} samples, {s.failed} failed{refused}, {shown}")
    for note in results.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    out.print(str(folder / RESULTS_FILE))


def harness_failures(results: LoadResults) -> str | None:
    if not results.exceptions:
        return None
    total = sum(x.count for x in results.exceptions)
    first = results.exceptions[0].message
    return f"the locustfile raised {total} exception(s), first: {first}"


def plan_from_args(args: argparse.Namespace, profile: str) -> LoadPlan:
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

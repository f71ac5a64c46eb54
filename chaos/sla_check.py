"""`python -m chaos.sla_check` — `sla-check` with chaos windows: what `nox -s sla-check` runs.

Without `--with-chaos` it is `python -m scenarios.cli sla-check`. With it, the journeys and the
steady prober run from before the first experiment until a cool-down after the last, and the
report shades each fault's window. Either way, where the deployment runs Prometheus, the report
shows which SLA alerts fired during the run and where an alert and the judge disagree. Chaos
sits above the load and SLA packages, so the composition lives here and `scenarios` never
imports `chaos`.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chaos.runner import run_experiments
from runs.results import RESULTS_FILE, ChaosEvent, LoadResults
from scenarios.cli.commands import cmd_sla_check, plain_measure
from scenarios.cli.common import HarnessError
from scenarios.cli.deployment import Deployment
from scenarios.cli.main import add_sla_check_arguments, run_command, validate
from scenarios.cli.measured import LoadPlan, measured_run
from scenarios.load.probe import ProbeTarget
from scenarios.sla.alerts import record_alerts

# How long a chaos run may last at most before the load is stopped regardless.
CHAOS_BUDGET_S = 30 * 60.0
# Load continues this long after the last experiment so recovery shows in the probes.
CHAOS_COOLDOWN_S = 15.0
ALERT_SETTLE_S = 3.0


def run_with_chaos(
    deployment: Deployment,
    plan: LoadPlan,
    folder: Path,
    probes: Sequence[ProbeTarget],
    experiments: Sequence[str],
    state_dir: Path | None = None,
) -> LoadResults:
    """The journeys and the prober run from before the first experiment until a cool-down after
    the last; the chaos runner records its events beside the results (chaos_events.jsonl)."""
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
            state_dir=state_dir,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.sla_check",
        description="Deploy unless up, load, probe, judge every SLA objective; optionally with "
        "chaos experiments during the load.",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="run directory with state.json; runs go to <run-dir>/runs "
        "(default: $TRIPGEN_RUN_DIR or .tripgen)",
    )
    add_sla_check_arguments(parser)
    parser.add_argument(
        "--with-chaos",
        action="store_true",
        help="run chaos experiments during the load (chaos/experiments/)",
    )
    parser.add_argument(
        "--experiment",
        action="append",
        default=None,
        metavar="NAME",
        help="with --with-chaos: an experiment to run (repeatable; default all)",
    )
    return parser


Measure = Callable[[Deployment, LoadPlan, Path, Sequence[ProbeTarget]], LoadResults]


def with_alerts(measure: Measure) -> Measure:
    """`measure`, then which alerts the deployment's Prometheus saw during it
    (`alerts.json`, shown by the report beside the judge's verdicts)."""

    @functools.wraps(measure)
    def measured(
        deployment: Deployment, plan: LoadPlan, folder: Path, probes: Sequence[ProbeTarget]
    ) -> LoadResults:
        results = measure(deployment, plan, folder, probes)
        # The rules evaluate every 2 s: let the last evaluation of the run land first.
        time.sleep(ALERT_SETTLE_S)
        record_alerts(
            folder,
            deployment.endpoints.monitoring.get("prometheus"),
            results.started_at,
            results.ended_at,
        )
        return results

    return measured


def sla_check(args: argparse.Namespace) -> int:
    if not args.with_chaos:
        return cmd_sla_check(args, with_alerts(plain_measure))
    experiments = args.experiment or ["all"]

    def measure(
        deployment: Deployment, plan: LoadPlan, folder: Path, probes: Sequence[ProbeTarget]
    ) -> LoadResults:
        return run_with_chaos(deployment, plan, folder, probes, experiments, args.run_dir)

    return cmd_sla_check(args, with_alerts(measure))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command = "sla-check"
    if args.experiment and not args.with_chaos:
        parser.error("--experiment needs --with-chaos")
    validate(parser, args)
    return run_command(sla_check, args)


if __name__ == "__main__":
    sys.exit(main())

"""The two commands: `load` (the journeys against the running deployment) and `sla-check`
(deploy unless up, load with the steady prober, judge, report, gate).

`sla-check` takes how to measure as a parameter, so that a layer above (chaos) can run its
experiments during the load without this package importing it."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from runs.folders import new_run_dir
from runs.results import RESULTS_FILE, LoadResults
from runs.spec import load_spec
from scenarios.cli.common import HarnessError, console, out
from scenarios.cli.deployment import Deployment, attach, attach_or_deploy, probe_targets
from scenarios.cli.interactive import interactive_run
from scenarios.cli.measured import (
    LoadPlan,
    harness_failures,
    measured_run,
    plan_from_args,
    print_summary,
    warn_if_over_rate_limit,
)
from scenarios.load.probe import ProbeTarget
from scenarios.load.runner import LOG_FILE
from scenarios.sla.judge import NoDataPolicy, exit_code, judge, print_verdicts
from scenarios.sla.report import write_report
from simulation.state import run_dir

# (deployment, plan, run folder, probe targets) → the saved results of the measured run.
Measure = Callable[[Deployment, LoadPlan, Path, Sequence[ProbeTarget]], LoadResults]


def plain_measure(
    deployment: Deployment, plan: LoadPlan, folder: Path, probes: Sequence[ProbeTarget]
) -> LoadResults:
    """The journeys and the steady prober, no faults."""
    return measured_run(deployment, plan, folder, probes=probes)


def cmd_load(args: argparse.Namespace) -> int:
    deployment = attach(args.run_dir, args.platform, args.profile)
    plan = plan_from_args(args, deployment.profile)
    warn_if_over_rate_limit(args.run_dir, plan)
    folder = new_run_dir(deployment.profile, run_dir(args.run_dir) / "runs")
    if args.ui:
        return interactive_run(deployment, plan, folder)
    results = measured_run(deployment, plan, folder)
    print_summary(results, folder)
    problem = harness_failures(results)
    if problem:
        raise HarnessError(f"{problem}; see {folder / LOG_FILE}")
    return 0


def cmd_sla_check(args: argparse.Namespace, measure: Measure = plain_measure) -> int:
    spec = load_spec(args.profile)
    deployment, deployed_here = attach_or_deploy(args.run_dir, args.platform, spec.deploys)
    try:
        plan = plan_from_args(args, spec.deploys)
        warn_if_over_rate_limit(args.run_dir, plan)
        folder = new_run_dir(spec.profile, run_dir(args.run_dir) / "runs")
        probes = probe_targets(deployment.endpoints)
        results = measure(deployment, plan, folder, probes)
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
        problem = harness_failures(results)
        if problem:
            raise HarnessError(f"{problem}; the verdicts above are not trustworthy")
        return exit_code(verdicts)
    finally:
        if deployed_here and args.down_after:
            console.print("stopping the deployment this sla-check started (--down-after)")
            deployment.platform.down()
        elif deployed_here:
            console.print("the deployment stays up for more runs; stop it with `nox -s down`")

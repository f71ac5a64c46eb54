"""`python -m simulation.capacity` (`nox -s capacity`): the prod topology, simulated.

nox -s capacity                         # calibrate, simulate every scenario, cost, report
nox -s capacity -- --results PATH       # calibrate from that run (default: the validation's
                                        # calibration step, else the latest run)
nox -s capacity -- --validate           # real load on local prod-sim; predicted vs measured;
                                        # writes .tripgen/capacity/validation.json (minutes)
nox -s capacity -- --route-cpu FILE     # weigh each service's routes by this `nox -s bench`
                                        # report (default: the newest usable one; or
                                        # --no-route-cpu: by mean response time only)
nox -s capacity-day                     # the wall time of a simulated day per phase (< 10 s)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from runs.folders import latest_results
from runs.results import LoadResults
from simulation.capacity.assumptions import (
    ASSUMPTIONS_FILE,
    Assumptions,
    AssumptionsError,
    load_assumptions,
)
from simulation.capacity.calibration import CalibrationError
from simulation.capacity.cluster_spec import ClusterSpecError, prod_cluster
from simulation.capacity.cost import PRICES_FILE, PricesError, load_prices
from simulation.capacity.evidence import Validation, load_validation
from simulation.capacity.loadshapes import daily_shape, phases
from simulation.capacity.report import write_report
from simulation.capacity.route_cpu import RouteCpu, RouteCpuError, resolve_route_cpu
from simulation.capacity.study import Study, run_study, simulate
from simulation.capacity.validate import startup_distribution
from simulation.capacity.workload import Workload, calibrate_workload
from simulation.k8s.chart import ChartError
from simulation.k8s.helm import HelmError
from simulation.state import run_dir

OUT_DIR = Path(".tripgen/capacity")


def bench_dir() -> Path:
    """Where `nox -s bench` writes its reports."""
    return run_dir() / "bench"


console = Console()


class UsageError(Exception):
    """Something the user can fix (the message says what)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.capacity",
        description="Simulate the prod topology (rendered chart + topology model) over time, "
        "calibrated from a measured run; --validate measures how good the predictions are.",
    )
    parser.add_argument("--results", type=Path, help="calibrate from this results.json")
    parser.add_argument(
        "--route-cpu",
        type=Path,
        metavar="BENCH_JSON",
        help="weigh each service's routes by this `nox -s bench` report's CPU per request "
        "(default: the newest usable one in <run dir>/bench)",
    )
    parser.add_argument(
        "--no-route-cpu",
        dest="use_route_cpu",
        action="store_false",
        help="weigh routes by mean response time only",
    )
    parser.add_argument(
        "--cpu-speed-ratio",
        type=float,
        default=None,
        help="prod vCPU speed ÷ this machine's core speed (default: assumptions.yaml)",
    )
    parser.add_argument("--assumptions", type=Path, default=ASSUMPTIONS_FILE)
    parser.add_argument("--prices", type=Path, default=PRICES_FILE)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where reports are written")
    parser.add_argument(
        "--day",
        action="store_true",
        help="only simulate each phase's day and print its wall time (goal: under 10 s)",
    )
    group = parser.add_argument_group("validation (--validate)")
    group.add_argument(
        "--validate",
        action="store_true",
        help="run real load on local prod-sim and compare (takes minutes)",
    )
    group.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="the validation's own run directory (default: <out>/validation-run)",
    )
    group.add_argument(
        "--users",
        type=int,
        default=40,
        help="calibration step users (a lighter step runs half as many)",
    )
    group.add_argument("--held-out-users", type=int, default=80, help="held-out load users")
    group.add_argument("--duration", type=float, default=120.0, help="seconds per step")
    group.add_argument("--warmup", type=float, default=30.0, help="warm-up seconds")
    group.add_argument(
        "--reuse-steps",
        type=Path,
        default=None,
        help="predict the steps a previous --validate measured (its capacity-steps.json) "
        "instead of running the load again",
    )
    return parser


def route_cpu_of(args: argparse.Namespace) -> RouteCpu | None:
    """The benchmark figures that weigh each service's routes, as the arguments ask."""
    root = bench_dir()
    try:
        route_cpu = resolve_route_cpu(args.route_cpu, enabled=args.use_route_cpu, root=root)
    except RouteCpuError as exc:
        raise UsageError(str(exc)) from exc
    if route_cpu is not None:
        console.print(f"[dim]route CPU from the benchmark: {route_cpu.describe()}[/]")
        if not route_cpu.weighed_services():
            console.print(
                "[yellow]that report measured at most one route of each service: nothing to "
                "weigh, routes stay weighed by mean response time[/]"
            )
    elif args.use_route_cpu:
        console.print(
            f"[dim]no benchmark report in {root} measured two routes of one service: routes "
            "are weighed by mean response time (`nox -s bench` measures them)[/]"
        )
    return route_cpu


def _calibration_source(args: argparse.Namespace) -> tuple[Workload, Validation | None]:
    validation = load_validation()
    if args.results is not None:
        if not args.results.exists():
            raise UsageError(f"no measured run at {args.results}")
        try:
            results = LoadResults.load(args.results)
        except (ValidationError, ValueError) as exc:
            raise UsageError(f"{args.results} is not a results JSON: {exc}") from exc
        return calibrate_workload(
            results, source=str(args.results), route_cpu=route_cpu_of(args)
        ), validation
    if validation is not None:
        # The validation's own calibration, route weights included (its report names them).
        if args.route_cpu is not None or not args.use_route_cpu:
            console.print(
                "[yellow]the saved validation's calibration keeps the route weights it was "
                "made with; --route-cpu and --no-route-cpu apply to --results or --validate[/]"
            )
        return Workload.from_dict(validation.workload), validation
    path = latest_results()
    if path is None:
        raise UsageError(
            "no measured run found: run `nox -s capacity -- --validate` (best: it also measures "
            "the model's error), `nox -s load`, or pass --results PATH"
        )
    return calibrate_workload(
        LoadResults.load(path), source=str(path), route_cpu=route_cpu_of(args)
    ), None


def _print_scenarios(study: Study) -> None:
    table = Table(title="scenarios (modelled)")
    for col in (
        "scenario",
        "offered",
        "served",
        "errors",
        "general p95",
        "AI p95",
        "max replicas",
        "nodes",
        "SLA",
        "wall",
    ):
        table.add_column(col)
    for o in study.scenarios:
        r = o.result
        table.add_row(
            r.name,
            f"{r.offered_rps:,.0f}",
            f"{r.throughput_rps:,.0f}",
            f"{r.error_rate:.2%}",
            f"{r.general_p95_ms or 0:,.0f} ms",
            f"{r.ai_p95_ms or 0:,.0f} ms",
            " ".join(f"{k[:3]} {v}" for k, v in sorted(r.max_replicas.items())),
            str(r.max_nodes),
            "[green]PASS[/]" if o.passed else "[red]FAIL[/]",
            f"{r.wall_s:.1f} s",
        )
    console.print(table)
    for o in study.scenarios:
        for text in o.result.breaks:
            console.print(f"[yellow]{o.result.name}[/]: {text}")


def _print_costs(study: Study) -> None:
    table = Table(title="monthly cost (modelled; prices.yaml)")
    for col in (
        "phase",
        "app nodes (mean)",
        "total",
        "budget",
        "verdict",
        "$/M requests",
        "halving CPU/request saves",
    ):
        table.add_column(col)
    for spec, c in study.costs.items():
        lean = study.halved[spec]
        budget = (
            f"${c.budget_low:,.0f}–" if c.budget_low else "≤ "
        ) + f"${c.budget_high or 0:,.0f}"
        table.add_row(
            spec,
            f"{c.app_nodes_mean:.1f}",
            f"${c.total:,.0f}",
            budget,
            c.verdict,
            f"${c.cost_per_million_requests:,.2f}",
            f"${c.total - lean.total:,.0f} ({lean.app_nodes_mean:.1f} nodes)",
        )
    console.print(table)


def _print_agreement(study: Study) -> None:
    table = Table(title="steady state: analytic (Erlang C, HPA fixed point) vs simulation")
    for col in (
        "phase",
        "service",
        "replicas analytic",
        "simulated",
        "CPU/request analytic",
        "simulated",
    ):
        table.add_column(col)
    for spec, items in study.agreement.items():
        for a in items:
            table.add_row(
                spec,
                a.service,
                str(a.analytic_replicas),
                f"{a.simulated_replicas:.1f}",
                f"{a.analytic_utilisation:.0%}",
                f"{a.simulated_utilisation:.0%}",
            )
    console.print(table)


def simulate_all(args: argparse.Namespace, assumptions: Assumptions) -> int:
    workload, validation = _calibration_source(args)
    cluster = prod_cluster()
    prices = load_prices(args.prices)
    for line in cluster.describe():
        console.print(f"[dim]{line}[/]")
    console.print(f"calibrated from [bold]{workload.source}[/] ({workload.api_rps:,.1f} req/s)")
    startup = (
        startup_distribution(validation.pod_startup_s, assumptions.pod_startup_s)
        if validation
        else None
    )
    began = time.perf_counter()
    study = run_study(
        cluster,
        workload,
        assumptions,
        prices,
        startup=startup,
        speed=args.cpu_speed_ratio,
        progress=lambda name: console.print(f"[dim]simulating {name} …[/]"),
    )
    _print_agreement(study)
    _print_scenarios(study)
    _print_costs(study)
    walls = ", ".join(f"{w:.1f} s" for w in study.day_wall_s)
    console.print(
        f"a simulated day took {walls} of wall time; everything {time.perf_counter() - began:.0f} s"
    )
    meta = None
    if validation is not None:
        meta = {
            "created_at": f"{validation.created_at:%Y-%m-%d %H:%M} UTC",
            "summary": validation.error_text(),
        }
    report = write_report(study, workload, cluster, args.out, meta)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    summary = args.out / f"capacity-{stamp}.json"
    summary.write_text(
        json.dumps(
            {
                "workload": workload.source,
                "scenarios": [o.result.summary() for o in study.scenarios],
                "costs": {k: v.as_dict() for k, v in study.costs.items()},
                "halved_cpu_costs": {k: v.as_dict() for k, v in study.halved.items()},
                "plans": {k: v.as_dict() for k, v in study.plans.items()},
                "caveat": "modelled by a discrete-event simulation calibrated on this machine",
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    console.print(f"report: {report.markdown}\nreport: {report.html}\nsummary: {summary}")
    return 0


DAY_GOAL_S = 10.0


def time_days(args: argparse.Namespace, assumptions: Assumptions) -> int:
    """Each phase's simulated day, timed: 0 when every one took under `DAY_GOAL_S`."""
    workload, validation = _calibration_source(args)
    cluster = prod_cluster()
    startup = (
        startup_distribution(validation.pod_startup_s, assumptions.pod_startup_s)
        if validation
        else None
    )
    console.print(f"calibrated from [bold]{workload.source}[/]; {os.cpu_count()} cores here")
    slow = 0
    for phase in phases():
        shape = daily_shape(phase, assumptions)
        load = os.getloadavg()[0]
        cpu = time.process_time()
        day = simulate(cluster, workload, assumptions, shape, startup, args.cpu_speed_ratio)
        cpu = time.process_time() - cpu
        ok = day.wall_s < DAY_GOAL_S
        slow += not ok
        # The CPU time is what the simulation costs; the wall time also holds the waits for a
        # core that other processes on a shared machine cause (the load average says how many).
        console.print(
            f"{shape.name}: a simulated day ({day.duration_s / 3600:.0f} h, "
            f"{len(day.series['t']):,} ticks, up to {day.max_nodes} nodes) took "
            f"[bold]{day.wall_s:.2f} s[/] of wall time ({cpu:.2f} s CPU, load average "
            f"{load:.1f}) — "
            + ("[green]under[/]" if ok else "[red]OVER[/]")
            + f" the {DAY_GOAL_S:g} s goal"
        )
    return 1 if slow else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cpu_speed_ratio is not None and args.cpu_speed_ratio <= 0:
        console.print("[red]error:[/] --cpu-speed-ratio must be > 0")
        return 2
    if args.validate and (
        min(args.users, args.held_out_users) < 1 or args.duration <= 0 or args.warmup < 0
    ):
        console.print("[red]error:[/] --users/--held-out-users ≥ 1, --duration > 0, --warmup ≥ 0")
        return 2
    try:
        assumptions = load_assumptions(args.assumptions)
        if args.validate:
            from simulation.capacity.validate_cli import run_validation

            return run_validation(args, assumptions, console, route_cpu_of(args))
        if args.day:
            return time_days(args, assumptions)
        return simulate_all(args, assumptions)
    except (
        UsageError,
        AssumptionsError,
        PricesError,
        CalibrationError,
        ClusterSpecError,
        ChartError,
        HelmError,
    ) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())

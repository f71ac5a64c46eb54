"""`--validate`'s console side: run the flow (`validate.py`), print predicted vs measured with
their errors and the operational laws' residuals, write the validation file.

Exit status: 0 when every held-out error is within its goal, 1 when one is not (the file is
written either way, and sla-check's judge says the model missed its goal), 2 when it could not
run.
"""

from __future__ import annotations

import argparse
import subprocess
import time

from rich.console import Console
from rich.table import Table

from simulation.capacity.assumptions import Assumptions
from simulation.capacity.cluster_spec import prod_cluster
from simulation.capacity.evidence import Validation
from simulation.capacity.route_cpu import RouteCpu
from simulation.capacity.validate import build_validation, load_steps, measure
from simulation.capacity.validation import ValidationRunError
from simulation.platforms.base import PlatformError

_ROWS = (
    ("throughput", "throughput (req/s)", "{:,.1f}"),
    ("utilisation", "services' CPU (cores)", "{:.3f}"),
    ("machine", "machine busy (cores)", "{:.2f}"),
    ("mean_latency", "mean latency (ms)", "{:,.1f}"),
    ("p95_latency", "p95 latency (ms)", "{:,.1f}"),
)


def git_state() -> tuple[str | None, bool | None]:
    """(HEAD commit, uncommitted changes) of the repository, or (None, None) outside one."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    if head.returncode != 0:
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None


def print_comparison(validation: Validation, console: Console) -> None:
    for step in validation.steps:
        table = Table(
            title=f"{step.name} ({step.role}): {step.users} users, replicas "
            + ", ".join(f"{k} {v}" for k, v in sorted(step.replicas.items()))
        )
        for col in ("figure", "predicted", "measured", "error"):
            table.add_column(col)
        keys = [
            *_ROWS,
            *(
                (k, f"{k.split(':')[1]} CPU (cores)", "{:.3f}")
                for k in sorted(step.measured)
                if k.startswith("cpu:")
            ),
        ]
        for key, label, fmt in keys:
            if key in step.measured and key in step.predicted:
                error = step.errors.get(key)
                table.add_row(
                    label,
                    fmt.format(step.predicted[key]),
                    fmt.format(step.measured[key]),
                    f"{error:+.1%}" if error is not None else "—",
                )
        console.print(table)


def print_laws(validation: Validation, console: Console) -> None:
    table = Table(title="operational laws (residual = (left − right) / right)")
    for col in ("law", "step", "left", "right", "residual"):
        table.add_column(col)
    for law in validation.laws:
        table.add_row(
            law["law"],
            law["scope"],
            f"{law['left']:,.3f}",
            f"{law['right']:,.3f}",
            f"{law['residual']:+.1%}",
        )
    console.print(table)


def print_verdict(validation: Validation, console: Console) -> None:
    for figure, value in validation.max_errors.items():
        goal = validation.goals.get(figure)
        mark = (
            ("[green]within[/]" if abs(value) <= goal else "[red]MISSED[/]") if goal else "reported"
        )
        target = f"goal ≤ {goal:.0%}" if goal else "no goal"
        console.print(
            f"largest held-out {figure.replace('_', ' ')} error: {value:+.1%} ({target}: {mark})"
        )
    for spec, phase in validation.phases.items():
        console.print(
            f"{spec}: {phase['target_rps']:,.0f} req/s offered → "
            f"{phase['throughput_rps']:,.0f} served, p95 "
            f"{phase['general_p95_ms'] or 0:,.0f} ms, errors {phase['error_rate']:.3%}"
        )


def run_validation(
    args: argparse.Namespace,
    assumptions: Assumptions,
    console: Console,
    route_cpu: RouteCpu | None = None,
) -> int:
    """Measure (or reuse) the steps, predict them, save and print the validation; `route_cpu`
    weighs each service's routes in the calibration."""
    directory = args.run_dir or args.out / "validation-run"
    began = time.monotonic()
    try:
        if args.reuse_steps is not None:
            steps, startup = load_steps(args.reuse_steps)
            console.print(f"predicting the steps measured in {args.reuse_steps} again")
        else:
            steps, startup = measure(
                directory,
                users=args.users,
                held_out_users=args.held_out_users,
                duration_s=args.duration,
                warmup_s=args.warmup,
                log=console.print,
            )
    except (ValidationRunError, PlatformError, RuntimeError) as exc:
        console.print(f"[red]error:[/] the validation could not run: {exc}")
        return 2
    validation = build_validation(
        steps, startup, prod_cluster(), assumptions, git_state(), console.print, route_cpu
    )
    path = validation.save()
    print_comparison(validation, console)
    print_laws(validation, console)
    print_verdict(validation, console)
    console.print(f"validation written to {path} ({time.monotonic() - began:.0f} s in all)")
    return 0 if validation.goals_met else 1

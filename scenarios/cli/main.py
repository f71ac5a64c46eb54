"""`python -m scenarios.cli COMMAND` — what `nox -s load` runs (`nox -s sla-check` runs it too,
through `chaos.sla_check`, which adds the chaos windows).

    load [--profile dev|prod] [--users N] [--spawn-rate R] [--duration 2m] [--quick]
         [--platform local|kind|auto] [--processes K] [--wait MIN,MAX] [--ui]
        The user journeys against the running deployment (state.json) → a timestamped folder
        under .tripgen/runs/ with results.json, locust's CSV/JSON/HTML and its log.

    sla-check [--profile prod|dev|phase2|phase3] [--platform local|kind|auto] [--users N]
              [--duration D] [--quick] [--no-data allow|fail|model] [--down-after]
        Deploys the spec's profile unless it is up, runs the journeys with the steady prober,
        judges every objective, prints the table, writes report.md/report.html and the gate
        file (<run dir>/gate/<spec>.json, read by deploy-aks).

Exit status: 0 done (sla-check: every gating objective met), 1 an objective failed, 2 a harness
error (nothing deployed, a tool missing, locust or the locustfile broke) — always one `error:`
line that says what to do, never a traceback; 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.markup import escape

from runs.spec import SpecError, available_specs
from scenarios.cli.args import parse_duration, positive_float, positive_int, wait_range
from scenarios.cli.commands import cmd_load, cmd_sla_check
from scenarios.cli.common import QUICK_DURATION_S, UI_ADDRESS, HarnessError, console
from scenarios.load.locustfiles.settings import JourneySettingsError
from scenarios.load.runner import LoadRunError
from scenarios.sla.judge import NoDataPolicy
from simulation.platforms.base import PlatformError
from simulation.platforms.runner import CommandFailed
from simulation.platforms.select import CHOICES
from simulation.platforms.supervisor import SupervisorError
from simulation.profiles import REPLICAS
from simulation.state import StateError

# What a command may raise that is the user's to fix, not a bug: one `error:` line, exit 2.
HARNESS_ERRORS: tuple[type[Exception], ...] = (
    HarnessError,
    LoadRunError,
    SpecError,
    PlatformError,
    StateError,
    CommandFailed,
    SupervisorError,
    JourneySettingsError,
)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
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


def add_sla_check_arguments(parser: argparse.ArgumentParser) -> None:
    """The `sla-check` options (also used by `chaos.sla_check`)."""
    parser.add_argument(
        "--profile",
        default="prod",
        choices=available_specs(),
        help="the SLA spec (runs/specs/<profile>.yaml) to judge against",
    )
    add_load_arguments(parser)
    parser.add_argument(
        "--no-data",
        default=NoDataPolicy.FAIL.value,
        choices=[p.value for p in NoDataPolicy],
        help="does NO-DATA on a gating objective close the gate (default fail)",
    )
    parser.add_argument(
        "--down-after",
        action="store_true",
        help="stop the deployment afterwards if this command started it",
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
    add_load_arguments(load)
    load.add_argument(
        "--ui",
        action="store_true",
        help=f"locust's web UI on http://{UI_ADDRESS[0]}:{UI_ADDRESS[1]} instead of a headless run",
    )
    load.set_defaults(handler=cmd_load)

    sla = sub.add_parser(
        "sla-check",
        help="deploy unless up, load, probe, judge, report",
        epilog="chaos windows during the load: python -m chaos.sla_check --with-chaos "
        "(what nox -s sla-check runs)",
    )
    add_sla_check_arguments(sla)
    sla.set_defaults(handler=cmd_sla_check)
    return parser


def validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.quick and args.duration is not None:
        parser.error("--quick and --duration are alternatives; give one")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (CI cancelling the job) ends like Ctrl-C


def run_command(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command with the harness's exit codes: one `error:` line (2), interrupted (130)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started as a background job: SIGINT is ignored and locust would inherit that, so the
        # clean stop (SIGINT → locust writes every file) would never reach it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return int(handler(args))
    except HARNESS_ERRORS as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    validate(parser, args)
    return run_command(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())

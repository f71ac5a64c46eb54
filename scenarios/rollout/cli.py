"""Roll a new version out on the local deployment, judged from Prometheus per version:

    nox -s rollout -- --strategy canary --service all --version HEAD
    nox -s rollout -- --strategy canary --service location --version HEAD \\
        --fault "GET /api/locations/cities=0.05"         # rehearse a rollback
    nox -s rollout -- --strategy blue-green --service all --version v2
    nox -s rollout -- --switch-back --service all          # blue-green: back to the standby

Exit codes: 0 promoted / switched, 1 rolled back (why is printed), 2 bad input, 3 the platform
failed. The report (md + html) goes to a run folder (`--out`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from runs.folders import new_run_dir
from runs.spec import SpecError
from scenarios.rollout.analysis import ThresholdError
from scenarios.rollout.controller import LocalRollout
from scenarios.rollout.plan import STRATEGIES, RolloutInputError
from scenarios.rollout.rehearsal import rehearse
from scenarios.rollout.report import summary_lines, write_report
from scenarios.rollout.traffic import TrafficError
from services.kit.fault import Fault, FaultSpecError
from simulation.backing.prometheus import PrometheusError
from simulation.platforms.base import PlatformError
from simulation.platforms.local_release import ReleaseError
from simulation.platforms.supervisor import SupervisorError
from simulation.state import run_dir


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def _fault(text: str) -> str:
    try:
        Fault.parse(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nox -s rollout --", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument("--strategy", choices=STRATEGIES, default="canary")
    parser.add_argument("--service", default="all", help="a service name or all")
    parser.add_argument("--version", help="git ref of the new version (branch, tag, sha, HEAD~1)")
    parser.add_argument("--rehearse", action="store_true",
                        help="the done-when rehearsal: healthy and faulty canary, blue-green "
                        "and switch back (prod-sim deployed if none runs)")  # fmt: skip
    parser.add_argument("--switch-back", action="store_true",
                        help="blue-green: all traffic back to the standby version")  # fmt: skip
    parser.add_argument("--fault", type=_fault, default=None, metavar="'[METHOD ]/route=share'",
                        help="the new version fails this share of a route")  # fmt: skip
    parser.add_argument("--pause", type=_positive, default=30.0, metavar="SECONDS",
                        help="judged pause per step (default 30)")  # fmt: skip
    parser.add_argument("--rate", type=_positive, default=40.0, metavar="RPS",
                        help="users' requests a second (default 40)")  # fmt: skip
    parser.add_argument("--ready-timeout", type=_positive, default=300.0, metavar="SECONDS",
                        help="for the new replicas to be ready (default 300)")  # fmt: skip
    parser.add_argument("--spec", default="prod", help="SLA spec the lines come from (prod)")
    parser.add_argument("--run-dir", type=Path, default=None, help="the deployment's run dir")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: new)")
    return parser


def _rehearse(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)
    out = args.out or new_run_dir("rollout-rehearsal")
    try:
        found = rehearse(
            run_dir(args.run_dir), out, args.version or "HEAD", console,
            pause_s=args.pause, rate_rps=args.rate, ready_timeout_s=args.ready_timeout,
        )  # fmt: skip
    except (RolloutInputError, ThresholdError, SpecError) as exc:
        console.print(f"[red]rollout:[/] {exc}")
        return 2
    except (PlatformError, ReleaseError, PrometheusError, SupervisorError, TrafficError) as exc:
        console.print(f"[red]rehearsal failed:[/] {exc}")
        return 3
    for e in found:
        print(f"{'MET ' if e.met else 'MISSED'}  {e.name}: {e.measured}")
    print(f"reports under {out}")
    return 0 if all(e.met for e in found) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rehearse:
        return _rehearse(args)
    if not args.switch_back and not args.version:
        parser.error("--version is required (a git ref), unless --switch-back")
    if args.switch_back and (args.version or args.fault):
        parser.error("--switch-back takes no --version or --fault: it returns to the standby")
    console = Console(stderr=True, soft_wrap=True)
    try:
        rollout = LocalRollout(
            run_dir(args.run_dir),
            console=console,
            pause_s=args.pause,
            rate_rps=args.rate,
            spec=args.spec,
            ready_timeout_s=args.ready_timeout,
        )
        if args.switch_back:
            outcome = rollout.switch_back(args.service)
        else:
            outcome = rollout.run(args.strategy, args.service, args.version, args.fault)
    except (RolloutInputError, ThresholdError, SpecError) as exc:
        console.print(f"[red]rollout:[/] {exc}")
        return 2
    except (PlatformError, ReleaseError, PrometheusError, SupervisorError, TrafficError) as exc:
        console.print(f"[red]rollout failed:[/] {exc}")
        return 3
    outcome.command = "python -m scenarios.rollout " + shlex.join(argv or sys.argv[1:])
    out = args.out or new_run_dir(f"rollout-{outcome.strategy}")
    md, page = write_report(outcome, out)
    for line in summary_lines(outcome):
        print(line)
    print(f"report: {md} and {page}")
    return 0 if outcome.ok else 1

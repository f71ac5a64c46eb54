"""`python -m chaos.cli` — what `nox -s chaos -- …` runs.

    --experiment NAME|all   (repeatable; default all)   --list   shows them with what each verifies
    --profile prod|dev      the deployed profile the hypotheses are judged for (default prod)
    --platform local|kind   must match the deployment (default: the deployment's)
    --results PATH          add the chaos events to this run's results JSON instead of a new run
    --deploy                deploy the profile first when nothing is deployed (local: with the
                            chaos LLM endpoint), and take it down afterwards
    --no-load               no background traffic (the caller drives the load)

Prints one row per experiment: steady-state hypothesis before/after, verdict, recovery times,
and the alerts it expected. Exits 1 when a hypothesis fails, an experiment errors, its fault was
not injected or its alerts misbehaved (also under `all`), 2 on a usage or deployment problem.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chaos.fake_llm import ChaosLLM
from chaos.llm_env import LLM_ENV
from chaos.outcome import ExperimentOutcome
from chaos.runner import ChaosRunError, available_experiments, load_experiment, run_experiments
from simulation.platforms.base import Platform, PlatformError
from simulation.platforms.local import LocalPlatform
from simulation.platforms.select import current_platform, default_runner, open_platform
from simulation.state import StateError, load_state, run_dir

console = Console(stderr=True, soft_wrap=True)
out = Console()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos.cli", description=__doc__.split("\n")[0])
    parser.add_argument("--experiment", action="append", default=[], metavar="NAME|all")
    parser.add_argument("--profile", choices=("prod", "dev"), default="prod")
    parser.add_argument("--platform", choices=("local", "kind"), default=None)
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--deploy", action="store_true")
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--run-dir", type=Path, default=None, help="platform run dir (.tripgen)")
    return parser.parse_args(argv)


def print_list() -> None:
    table = Table(title="chaos experiments (chaos/experiments/)")
    for column in ("name", "verifies", "platforms"):
        table.add_column(column)
    for name in available_experiments():
        experiment = load_experiment(name)
        platforms = next(
            (e.get("platforms") for e in experiment.get("extensions", []) if "platforms" in e),
            ["local", "kind"],
        )
        table.add_row(name, escape(experiment["title"]), ", ".join(platforms))
    out.print(table)


def _mark(value: bool | None) -> str:
    return {True: "[green]held[/]", False: "[red]deviated[/]", None: "—"}[value]


def print_outcomes(outcomes: Sequence[ExperimentOutcome], run_folder: Path | None) -> None:
    table = Table(title=f"chaos run{f' → {run_folder}' if run_folder else ''}")
    for column in ("experiment", "before", "after", "verdict", "recovery", "notes"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        recovery = "\n".join(
            f"{name}: {'never' if s is None else f'{s:.1f} s'}" for name, s in o.recoveries.items()
        )
        colour = {"held": "green", "not run": "yellow"}.get(o.verdict, "red")
        notes = "\n".join(escape(n) for n in [*o.notes, *o.alert_notes][:8])
        table.add_row(
            o.name,
            _mark(o.hypothesis_before),
            _mark(o.hypothesis_after),
            f"[{colour}]{o.verdict}[/]",
            recovery or "—",
            notes,
        )
    out.print(table)


@contextlib.contextmanager
def deployment(args: argparse.Namespace) -> Iterator[str]:
    """The platform of the running deployment; with --deploy and nothing deployed, deploy it
    (local: next to a chaos LLM endpoint, so the LLM experiment can steer it) and tear it down
    afterwards. Yields the platform name."""
    state = load_state(run_dir(args.run_dir))
    if state is not None:
        if args.deploy:
            console.print(f"a {state.profile} deployment on {state.platform} is up; using it")
        yield state.platform
        return
    if not args.deploy:
        raise ChaosRunError(
            f"nothing is deployed; run `nox -s deploy-{args.profile}-sim` first or pass --deploy"
        )
    name = args.platform or "local"
    llm = ChaosLLM().start() if name == "local" else None
    try:
        platform: Platform
        if llm is not None:
            platform = LocalPlatform(
                args.run_dir, console=console, extra_env={LLM_ENV: llm.base_url}
            )
        else:
            platform = open_platform(name, directory=args.run_dir, runner=default_runner())
        platform.deploy(args.profile)
        try:
            yield name
        finally:
            current_platform(args.run_dir, console=console).down()
    finally:
        if llm is not None:
            llm.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print_list()
        return 0
    names = args.experiment or ["all"]
    outcomes: list[ExperimentOutcome] = []
    try:
        with deployment(args) as platform:
            if args.platform and args.platform != platform:
                raise ChaosRunError(f"the deployment runs on {platform}, not {args.platform}")

            def progress(outcome: ExperimentOutcome) -> None:
                console.print(f"{outcome.name}: {outcome.verdict} ({outcome.duration_s:.0f} s)")

            outcomes = run_experiments(
                names,
                profile=args.profile,
                platform=platform,
                results_path=args.results,
                background_load=not args.no_load,
                state_dir=args.run_dir,
                on_outcome=progress,
            )
    except (ChaosRunError, PlatformError, StateError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return 2
    folder = outcomes[0].journal.parent.parent if outcomes and outcomes[0].journal else None
    print_outcomes(outcomes, folder)
    explicit = set(names) - {"all"}
    failed = [o for o in outcomes if not o.ok and (o.verdict != "not run" or o.name in explicit)]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

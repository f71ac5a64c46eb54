"""The done-when rehearsal at prod replica counts (`nox -s rollout -- --rehearse`): on the
running deployment (prod-sim; deployed first when nothing runs), one after another:

1. a canary of a healthy build of every service — must reach 100% with 0 failed requests;
2. a canary of a build failing 5% of one route — must roll back at the 10% step, < 1% of all
   requests failing, none on the stable version, breach to full rollback < 30 s;
3. a blue-green switch of every service and a switch back — 0 failed requests each.

Each rollout writes its report under the run folder; the figures and their verdicts are printed
and the command exits non-zero when any expectation is missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from scenarios.rollout.controller import LocalRollout
from scenarios.rollout.outcome import PROMOTED, ROLLED_BACK, SWITCHED, SWITCHED_BACK, RolloutOutcome
from scenarios.rollout.report import summary, write_report
from simulation.platforms.local import LocalPlatform
from simulation.state import load_state

FAULT = "GET /api/locations/cities=0.05"
BREACH_TO_ROLLBACK_GOAL_S = 30.0


Action = Callable[[LocalRollout], RolloutOutcome]


@dataclass(frozen=True)
class Expectation:
    name: str
    met: bool
    measured: str


Check = Callable[[RolloutOutcome], list[Expectation]]


def _healthy(o: RolloutOutcome) -> list[Expectation]:
    return [
        Expectation("healthy canary reaches 100%", o.decision == PROMOTED,
                    f"{o.decision}; steps {[s.label for s in o.steps]}"),
        Expectation("healthy canary: 0 failed requests", o.failed == 0,
                    f"{o.failed} failed of {len(o.answers)}"),
    ]  # fmt: skip


def _faulty(o: RolloutOutcome) -> list[Expectation]:
    figures = summary(o)
    stable = figures["users"].get("stable", {}).get("failed", 0)
    share = o.failed / len(o.answers) if o.answers else 1.0
    took = o.breach_to_rollback_s
    return [
        Expectation("faulty canary rolls back at 10%",
                    o.decision == ROLLED_BACK and [s.label for s in o.steps] == ["10%"],
                    f"{o.decision} at {[s.label for s in o.steps]}: {o.reason}"),
        Expectation("< 1% of all requests failed", share < 0.01,
                    f"{o.failed} of {len(o.answers)} ({share:.2%})"),
        Expectation("none failed on the stable version", stable == 0, f"{stable}"),
        Expectation(f"breach → full rollback < {BREACH_TO_ROLLBACK_GOAL_S:g} s",
                    took is not None and took < BREACH_TO_ROLLBACK_GOAL_S,
                    "—" if took is None else f"{took:.2f} s"),
    ]  # fmt: skip


def _switch(o: RolloutOutcome, decision: str) -> list[Expectation]:
    return [
        Expectation(f"blue-green {decision}, 0 failed requests",
                    o.decision == decision and o.failed == 0,
                    f"{o.decision}; {o.failed} failed of {len(o.answers)}"),
    ]  # fmt: skip


def rehearse(
    run_dir: Path,
    out: Path,
    version: str,
    console: Console,
    *,
    pause_s: float,
    rate_rps: float,
    ready_timeout_s: float,
) -> list[Expectation]:
    """Run the four rollouts; their expectations, in order."""
    if load_state(run_dir) is None:
        LocalPlatform(run_dir, console=console).deploy("prod")
    found: list[Expectation] = []
    runs: list[tuple[str, Action, Check]] = [
        ("1-canary-healthy", lambda r: r.run("canary", "all", version, None), _healthy),
        ("2-canary-faulty", lambda r: r.run("canary", "location", version, FAULT), _faulty),
        ("3-blue-green", lambda r: r.run("blue-green", "all", version, None),
         lambda o: _switch(o, SWITCHED)),
        ("4-switch-back", lambda r: r.switch_back("all"), lambda o: _switch(o, SWITCHED_BACK)),
    ]  # fmt: skip
    for name, action, expect in runs:
        console.rule(name)
        rollout = LocalRollout(
            run_dir, console=console, pause_s=pause_s, rate_rps=rate_rps,
            ready_timeout_s=ready_timeout_s,
        )  # fmt: skip
        outcome = action(rollout)
        md, _ = write_report(outcome, out / name)
        console.print(f"  report {md}")
        found += expect(outcome)
    return found

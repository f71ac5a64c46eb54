"""The SLA judge: a `LoadResults` against an `SlaSpec` → one `Verdict` per objective.

Outcomes: PASS, FAIL, or NO-DATA when the run holds nothing to judge (no prober results, no
chaos events, no AI samples…) or when a scale-bound objective (`requires_production_scale`,
e.g. 1,000 TPS) is missed on a simulation platform — a laptop's throughput is no evidence
against the architecture, only a production-scale run is (a met target still PASSes). The
reason column says which.

When the run has chaos events, every availability objective is judged a second time over the
probes inside the chaos windows (`<id>@chaos`, same target).

Exit code and gate:

* `exit_code(verdicts)` is 1 when any gating objective FAILs, else 0;
* `gate_passed(verdicts, policy)` decides the gate file that `deploy-aks` reads: no gating
  FAIL, and — under the default `NoDataPolicy.FAIL` — no gating NO-DATA either (absence of
  evidence does not open the gate); `NoDataPolicy.ALLOW` lets NO-DATA through.

Non-gating objectives (`gating: false`, e.g. the 95% cache-hit goal) are judged and shown but
never affect either.

Usage (what `scenarios.cli sla-check` does)::

    verdicts = judge(LoadResults.load(path), load_spec("prod"))
    print_verdicts(verdicts)
    sys.exit(exit_code(verdicts))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runs.results import LoadResults
from runs.spec import Objective, SlaSpec
from scenarios.sla import measures
from scenarios.sla.measures import Measurement


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NO_DATA = "NO-DATA"


class NoDataPolicy(StrEnum):
    FAIL = "fail"
    """NO-DATA on a gating objective keeps the gate closed (default)."""
    ALLOW = "allow"
    """NO-DATA does not block the gate (still shown as NO-DATA)."""


class Verdict(BaseModel):
    objective_id: str
    description: str
    source: str
    metric: str
    target: str
    measured: float | None
    measured_text: str
    outcome: Outcome
    reason: str
    gating: bool = True
    scope: str = "run"
    """'run', or 'chaos' for the availability re-judged inside chaos windows."""


def _decide(
    objective: Objective, measurement: Measurement, results: LoadResults
) -> tuple[Outcome, str]:
    if measurement.no_data is not None:
        return Outcome.NO_DATA, measurement.no_data
    if measurement.failed is not None:
        return Outcome.FAIL, measurement.failed
    assert measurement.value is not None  # a Measurement without no_data/failed has a value
    detail = f"; {measurement.detail}" if measurement.detail else ""
    if objective.met_by(measurement.value):
        return Outcome.PASS, f"target met{detail}"
    if objective.requires_production_scale and not results.production_scale:
        return Outcome.NO_DATA, (
            f"missed on platform '{results.platform}' ({results.users} users, "
            f"{results.machine.cores} cores): a simulation cannot show production-scale "
            f"{objective.metric}; the capacity model extrapolates it{detail}"
        )
    return Outcome.FAIL, f"target missed{detail}"


def _verdict(
    objective: Objective, measurement: Measurement, results: LoadResults, scope: str = "run"
) -> Verdict:
    outcome, reason = _decide(objective, measurement, results)
    suffix = "@chaos" if scope == "chaos" else ""
    return Verdict(
        objective_id=objective.id + suffix,
        description=objective.description + (" — during chaos windows" if suffix else ""),
        source=objective.source,
        metric=objective.metric,
        target=objective.target_text(),
        measured=measurement.value,
        measured_text=measurement.text,
        outcome=outcome,
        reason=reason,
        gating=objective.gating,
        scope=scope,
    )


def profile_mismatch(results: LoadResults, spec: SlaSpec) -> str | None:
    """A warning when the run's profile is not the one the spec is measured on."""
    if results.profile in (spec.profile, spec.deploys):
        return None
    return (
        f"spec '{spec.profile}' is measured on the '{spec.deploys}' profile, "
        f"but this run deployed '{results.profile}'"
    )


def judge(results: LoadResults, spec: SlaSpec) -> list[Verdict]:
    """One verdict per objective (plus `@chaos` availability rows when chaos happened)."""
    verdicts: list[Verdict] = []
    for objective in spec.objectives:
        measurement = measures.MEASURES[objective.metric](results, objective)
        verdicts.append(_verdict(objective, measurement, results))
        if (
            objective.metric == "availability"
            and objective.during_chaos
            and objective.window_s is None
            and results.chaos_events
        ):
            chaos = measures.availability_during_chaos(results, objective)
            verdicts.append(_verdict(objective, chaos, results, scope="chaos"))
    return verdicts


def exit_code(verdicts: Sequence[Verdict]) -> int:
    """1 when any gating objective FAILs (NO-DATA is the gate's business, not the exit code's)."""
    return int(any(v.gating and v.outcome is Outcome.FAIL for v in verdicts))


def blocking(
    verdicts: Sequence[Verdict], policy: NoDataPolicy = NoDataPolicy.FAIL
) -> list[Verdict]:
    """The verdicts that keep the gate closed under `policy`."""
    closing = {Outcome.FAIL} | ({Outcome.NO_DATA} if policy is NoDataPolicy.FAIL else set())
    return [v for v in verdicts if v.gating and v.outcome in closing]


def gate_passed(verdicts: Sequence[Verdict], policy: NoDataPolicy = NoDataPolicy.FAIL) -> bool:
    return not blocking(verdicts, policy)


def tally(verdicts: Sequence[Verdict]) -> dict[str, int]:
    """Gating verdicts per outcome, e.g. {'PASS': 5, 'FAIL': 1, 'NO-DATA': 2}."""
    counts = Counter(v.outcome.value for v in verdicts if v.gating)
    return {o.value: counts.get(o.value, 0) for o in Outcome}


_STYLE = {Outcome.PASS: "bold green", Outcome.FAIL: "bold red", Outcome.NO_DATA: "bold yellow"}


def verdict_table(verdicts: Sequence[Verdict], title: str | None = None) -> Table:
    """Objective, target, measured (the reason beneath it, dimmed) and verdict.

    Four columns so the table stays readable in an 80-column CI log; ids and verdicts never
    wrap, the prose wraps at spaces.
    """
    table = Table(title=title, show_lines=True, expand=False)
    table.add_column("Objective", style="bold", no_wrap=True)
    table.add_column("Target", min_width=8, max_width=18)
    table.add_column("Measured / reason", ratio=1, min_width=20)
    table.add_column("Verdict", no_wrap=True)
    for v in verdicts:
        outcome = f"[{_STYLE[v.outcome]}]{v.outcome.value}[/]"
        if not v.gating:
            outcome += "\n[dim](goal)[/]"
        measured = f"{escape(v.measured_text)}\n[dim]{escape(v.reason)}[/]"
        table.add_row(v.objective_id, v.target, measured, outcome)
    return table


def print_verdicts(
    verdicts: Sequence[Verdict],
    *,
    title: str | None = None,
    policy: NoDataPolicy = NoDataPolicy.FAIL,
    console: Console | None = None,
) -> None:
    """The table, then one line: counts, the exit-code rule and the gate decision."""
    console = console or Console()
    console.print(verdict_table(verdicts, title))
    counts = tally(verdicts)
    gate = "open" if gate_passed(verdicts, policy) else "closed"
    console.print(
        f"gating objectives: {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
        f"{counts['NO-DATA']} NO-DATA — gate {gate} (NO-DATA policy: {policy.value})"
    )

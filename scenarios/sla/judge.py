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

Measured vs modelled: a scale-bound throughput objective missed on a simulation platform gets a
MODELLED verdict instead of NO-DATA when the capacity simulation was validated on this machine
recently (`simulation.capacity.evidence`, written by `nox -s capacity -- --validate`): PASS or
FAIL by the simulation's predicted sustained throughput for the spec's phase (its concurrent users
offering its throughput), with the validation's measured errors in the reason. A MODELLED verdict
never counts as measured: under `NoDataPolicy.FAIL` it keeps the gate closed like NO-DATA, under
`ALLOW` only a modelled FAIL closes it, under `MODEL` a modelled PASS may open it — if the
validation met its error goals. The exit code counts measured FAILs only.

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
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runs.results import LoadResults
from runs.spec import Objective, SlaSpec, format_value
from scenarios.sla import measures
from scenarios.sla.measures import Measurement
from simulation.capacity.evidence import Validation, recent_validation, validation_path

SERVED_SHARE = 0.999  # of the offered load: "all of it served" in a simulated phase


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NO_DATA = "NO-DATA"


class NoDataPolicy(StrEnum):
    FAIL = "fail"
    """NO-DATA on a gating objective keeps the gate closed (default)."""
    ALLOW = "allow"
    """NO-DATA does not block the gate (still shown as NO-DATA)."""
    MODEL = "model"
    """NO-DATA blocks, but a MODELLED PASS of a validated capacity simulation stands in for a
    scale objective a laptop cannot measure."""


class Modelled(BaseModel):
    """Where a MODELLED verdict's number comes from and how far to trust it."""

    predicted: float
    validated_at: datetime
    validation_errors: str  # e.g. "throughput 3%, utilisation 6%, mean latency 12%, …"
    trusted: bool  # the validation met its error goals
    source: str  # the validation file


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
    modelled: Modelled | None = None
    """Set when the capacity simulation, not this run, decided the outcome."""

    @property
    def basis(self) -> Literal["measured", "modelled"]:
        return "modelled" if self.modelled is not None else "measured"

    @property
    def mark(self) -> str:
        """The verdict as shown: PASS, FAIL, NO-DATA, or MODELLED PASS / MODELLED FAIL."""
        return f"MODELLED {self.outcome.value}" if self.modelled else self.outcome.value


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


def _model_evidence(
    results: LoadResults, spec: SlaSpec, evidence: Validation | Literal["recent"] | None
) -> tuple[dict[str, Any] | None, Validation | None, str]:
    """(the phase's predictions, the validation, why there are none)."""
    if results.production_scale:
        return None, None, ""
    if results.profile != spec.deploys:
        return None, None, f"the run deployed '{results.profile}', not '{spec.deploys}'"
    validation, why = recent_validation(results.machine) if evidence == "recent" else (evidence, "")
    if validation is None:
        return None, None, why or "no capacity validation was given"
    phase = validation.phases.get(spec.profile)
    if phase is None:
        return None, validation, f"the capacity validation predicted no '{spec.profile}' phase"
    return phase, validation, ""


def _modelled(
    verdict: Verdict, objective: Objective, phase: dict[str, Any], validation: Validation
) -> Verdict:
    """The capacity simulation's verdict on a scale objective this run could not show."""
    predicted = float(phase["throughput_rps"])
    offered = float(phase["offered_rps"])
    # The phase offers exactly the target; serving all of it (within the simulation's
    # rounding, as the capacity study's own check allows) meets it.
    passed = objective.met_by(predicted) or (
        predicted >= SERVED_SHARE * offered and objective.met_by(offered)
    )
    users = f" from {phase['users']:,} concurrent users" if phase.get("users") else ""
    p95 = phase.get("general_p95_ms")
    trust = "within its error goals" if validation.goals_met else "MISSED its error goals"
    reason = (
        f"modelled by the capacity simulation: {format_value(objective.metric, predicted)} "
        f"served of {phase['offered_rps']:,.0f} offered{users} on the rendered prod chart "
        f"(p95 {p95 or 0:,.0f} ms, errors {phase['error_rate']:.3%})"
        + (f"; plan breaks: {'; '.join(phase['breaks'])}" if phase.get("breaks") else "")
        + f"; validated on this machine {validation.created_at:%Y-%m-%d %H:%M} UTC, "
        f"largest held-out errors {validation.error_text()} ({trust}); measured here: "
        f"{verdict.measured_text}"
    )
    return verdict.model_copy(
        update={
            "outcome": Outcome.PASS if passed else Outcome.FAIL,
            "measured_text": f"{format_value(objective.metric, predicted)} predicted (modelled)",
            "reason": reason,
            "modelled": Modelled(
                predicted=predicted,
                validated_at=validation.created_at,
                validation_errors=validation.error_text(),
                trusted=validation.goals_met,
                source=str(validation_path()),
            ),
        }
    )


def judge(
    results: LoadResults,
    spec: SlaSpec,
    evidence: Validation | Literal["recent"] | None = "recent",
) -> list[Verdict]:
    """One verdict per objective (plus `@chaos` availability rows when chaos happened).

    `evidence`: the capacity validation that may model scale objectives — "recent" reads this
    machine's validation file when it is recent, None models nothing."""
    verdicts: list[Verdict] = []
    phase, validation, why = _model_evidence(results, spec, evidence)
    for objective in spec.objectives:
        measurement = measures.MEASURES[objective.metric](results, objective)
        verdict = _verdict(objective, measurement, results)
        if (
            verdict.outcome is Outcome.NO_DATA
            and objective.requires_production_scale
            and objective.metric == "throughput_rps"
            and measurement.no_data is None
        ):
            if phase is not None and validation is not None:
                verdict = _modelled(verdict, objective, phase, validation)
            elif why:
                verdict = verdict.model_copy(update={"reason": f"{verdict.reason} ({why})"})
        verdicts.append(verdict)
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
    """1 when any gating objective FAILs as measured (NO-DATA and MODELLED verdicts are the
    gate's business, not the exit code's: a prediction is not this run failing)."""
    return int(any(v.gating and v.outcome is Outcome.FAIL and not v.modelled for v in verdicts))


def _closes(verdict: Verdict, policy: NoDataPolicy) -> bool:
    if verdict.modelled is not None:
        if policy is NoDataPolicy.FAIL:
            return True  # not measured: no better than NO-DATA
        if policy is NoDataPolicy.ALLOW:
            return verdict.outcome is Outcome.FAIL
        return verdict.outcome is Outcome.FAIL or not verdict.modelled.trusted
    if verdict.outcome is Outcome.NO_DATA:
        return policy is not NoDataPolicy.ALLOW
    return verdict.outcome is Outcome.FAIL


def blocking(
    verdicts: Sequence[Verdict], policy: NoDataPolicy = NoDataPolicy.FAIL
) -> list[Verdict]:
    """The verdicts that keep the gate closed under `policy`."""
    return [v for v in verdicts if v.gating and _closes(v, policy)]


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
        outcome = f"[{_STYLE[v.outcome]}]{v.mark.replace(' ', chr(10))}[/]"
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
    modelled = [v.objective_id for v in verdicts if v.gating and v.modelled]
    console.print(
        f"gating objectives: {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
        f"{counts['NO-DATA']} NO-DATA — gate {gate} (NO-DATA policy: {policy.value})"
        + (f"; modelled, not measured: {', '.join(modelled)}" if modelled else "")
    )

"""The benchmark's verdicts: each target MET, MISS or NOT RUN, and the printed tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scenarios.bench.ai import AiBenchResult
from scenarios.bench.burst import BURST_KEY, QUIET_KEY, burst_checks
from scenarios.bench.cases import (
    AI_CONCURRENCY,
    AI_MAX_P95_MS,
    MIX_MAX_P95_MS,
    MIX_MIN_RPS,
    ROUTE_CASES,
    Check,
    Figures,
)

# Wide enough for the tables even when stdout is a file or a pipe (nox, CI logs).
out = Console(soft_wrap=True, width=max(Console().width, 150))


def baseline_rps(figures: Sequence[Figures]) -> float | None:
    runs = [f.rps for f in figures if f.key in ("baseline", "baseline_again") and f.rps > 0]
    return sum(runs) / len(runs) if runs else None


def ratio_of(f: Figures, run_baseline_rps: float | None) -> float | None:
    """`f`'s req/s over the baseline's: the baseline runs beside it when it has them, else the
    run's (the mean of the first and the last)."""
    beside = [rps for rps in f.baseline_beside_rps if rps > 0]
    reference = sum(beside) / len(beside) if beside else run_baseline_rps
    return f.rps / reference if reference else None


def ai_dict(ai: AiBenchResult | None, note: str) -> dict[str, Any]:
    if ai is None:
        return {"measured": False, "note": note}
    return {
        "measured": True,
        "concurrency": ai.concurrency,
        "generations": len(ai.generations),
        "failed": ai.failed,
        "p50_ms": ai.percentile(0.50),
        "p95_ms": ai.percentile(0.95),
        "p99_ms": ai.percentile(0.99),
        "wall_s": ai.wall_s,
        "statuses": sorted({g.status for g in ai.generations}),
        "cpu_seconds_net_of_idle": ai.cpu_seconds_net_of_idle,
        "cpu_ms_per_generation": ai.cpu_ms_per_generation,
        "planner_speed_ms": ai.planner_speed_ms,
    }


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return "failed" if value == float("inf") else f"{value:,.0f} ms"


def evaluate(figures: Sequence[Figures], ai: AiBenchResult | None, ai_note: str) -> list[Check]:
    """Every target, each MET (True), MISS (False) or not measured (None)."""
    by_key = {f.key: f for f in figures}
    checks: list[Check] = []
    for case in ROUTE_CASES:
        f = by_key.get(case.key)
        if case.min_ratio is None or f is None:
            continue
        ratio = f.ratio or 0.0
        checks.append(
            Check(
                f"{case.title} throughput",
                f"≥ {case.min_ratio:g} × baseline, no errors",
                f"{ratio:.2f} × ({f.rps:,.0f} req/s), {f.failures} errors",
                ratio >= case.min_ratio and f.failures == 0,
            )
        )
    checks += burst_checks(by_key.get(QUIET_KEY), by_key.get(BURST_KEY))
    mix = by_key.get("mix")
    if mix is not None:
        checks += [
            Check("journey mix throughput", f"≥ {MIX_MIN_RPS:,.0f} req/s",
                  f"{mix.rps:,.0f} req/s", mix.rps >= MIX_MIN_RPS),
            Check("journey mix p95", f"< {MIX_MAX_P95_MS:g} ms", _ms(mix.p95_ms),
                  mix.p95_ms is not None and mix.p95_ms < MIX_MAX_P95_MS),
            Check("journey mix errors", "none", f"{mix.failures} of {mix.requests:,}",
                  mix.failures == 0),
        ]  # fmt: skip
    if ai is not None:
        p95 = ai.percentile(0.95)
        checks.append(
            Check(
                f"AI generation end to end p95 at {ai.concurrency} concurrent",
                f"< {AI_MAX_P95_MS:,.0f} ms",
                f"{_ms(p95)} ({len(ai.generations)} generations, {ai.failed} failed)",
                p95 is not None and p95 < AI_MAX_P95_MS,
            )
        )
    else:
        checks.append(
            Check(
                f"AI generation end to end p95 at {AI_CONCURRENCY} concurrent",
                f"< {AI_MAX_P95_MS:,.0f} ms",
                ai_note or "not run (--only)",
                None,
            )
        )
    return checks


def print_bench(
    figures: Sequence[Figures],
    checks: Sequence[Check],
    ai: AiBenchResult | None,
    ai_note: str,
    baseline_rps: float | None,
    label: str = "",
) -> None:
    suffix = f", {label}" if label else ""
    table = Table(title=f"TripGen benchmark (local prod-sim, zero think time{suffix})")
    for column in ("case", "req/s", "p50", "p95", "p99", "errors", "× baseline", "CPU busy/steal"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for f in figures:
        cpu = f.machine_cpu
        table.add_row(
            f.title,
            f"{f.rps:,.0f}",
            _ms(f.p50_ms),
            _ms(f.p95_ms),
            _ms(f.p99_ms),
            f"{f.failures:,}",
            f"{f.ratio:.2f}" if f.ratio is not None else "—",
            f"{cpu.get('busy', 0):.0%} / {cpu.get('steal', 0):.0%}",
        )
    if ai is not None:
        table.add_row(
            f"AI generation e2e ×{ai.concurrency}",
            f"{len(ai.generations) / ai.wall_s:,.1f} gen/s",
            _ms(ai.percentile(0.5)),
            _ms(ai.percentile(0.95)),
            _ms(ai.percentile(0.99)),
            f"{ai.failed}",
            "—",
            "",
        )
    out.print(table)
    if baseline_rps:
        beside = {f.title: f.baseline_beside_rps for f in figures if f.baseline_beside_rps}
        out.print(
            f"baseline: {baseline_rps:,.0f} req/s (mean of the first and the last run)"
            + (
                "; a route case with a target is judged against the runs just before and after "
                "it: "
                + ", ".join(
                    f"{title} {' / '.join(f'{rps:,.0f}' for rps in runs)}"
                    for title, runs in beside.items()
                )
                if beside
                else ""
            )
        )
    if ai is not None and ai.planner_speed_ms is not None:
        out.print(
            f"planner speed before the AI case: a fixed plan took {ai.planner_speed_ms:.0f} ms "
            "of CPU (scenarios.bench.planner_speed; lower = a faster machine)"
        )
    verdicts = Table(title=f"targets{suffix}")
    for column in ("target", "wanted", "measured", "verdict"):
        verdicts.add_column(column)
    for c in checks:
        verdict = (
            "[yellow]NOT RUN[/]" if c.passed is None
            else "[green]MET[/]" if c.passed else "[red]MISS[/]"
        )  # fmt: skip
        verdicts.add_row(c.name, c.target, escape(c.measured), verdict)
    out.print(verdicts)
    for f in figures:
        for note in f.notes:
            out.print(f"[dim]{f.title}: {escape(note)}[/]")
        if f.profile and "self" in f.profile:
            top = ", ".join(f"{frame} {share:.0%}" for frame, share in f.profile["self"][:5])
            out.print(f"[dim]{f.title} — py-spy, on CPU: {escape(top)}[/]")

"""`python -m simulation.capacity` (`nox -s capacity`): size prod from a measured run."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from runs.folders import latest_results
from runs.results import LoadResults
from simulation.capacity.calibration import CalibrationError, calibrate
from simulation.capacity.model import CapacityPlan, plan
from simulation.capacity.production import application_pool, deployments, prod_values

# SPEC.md › Targets: throughput 1,000 / 5,000 / 10,000 TPS (phase 1 / 2 / 3) with the general
# API p95 objective of each phase (200 ms / 100 ms / 200 ms global).
PHASES = {"phase 1": (1000.0, 200.0), "phase 2": (5000.0, 100.0), "phase 3": (10000.0, 200.0)}
OUT_DIR = Path(".tripgen/capacity")
console = Console()


def _fmt_ms(value: float) -> str:
    return "∞ (saturated)" if value == float("inf") else f"{value:,.0f} ms"


def _print_plan(name: str, result: CapacityPlan) -> None:
    table = Table(
        title=f"{name}: {result.target_rps:,.0f} req/s, p95 ≤ {result.p95_objective_ms:.0f} ms"
    )
    for col in (
        "service",
        "req/s",
        "replicas needed",
        "HPA min–max",
        "CPU util.",
        "p95 (model)",
        "p95 at HPA max",
        "verdict",
    ):
        table.add_column(col)
    for s in result.services:
        verdict = "[green]fits HPA[/green]" if s.fits_hpa else "[red]exceeds HPA max[/red]"
        table.add_row(
            s.service,
            f"{s.arrival_rps:,.0f}",
            str(s.replicas_needed),
            f"{s.hpa_min}–{s.hpa_max}",
            f"{s.utilisation:.0%}",
            _fmt_ms(s.p95_ms),
            _fmt_ms(s.p95_at_hpa_max_ms),
            verdict,
        )
    console.print(table)
    console.print(
        f"  CPU requested {result.cpu_requested_m / 1000:,.1f} cores; application pool at max "
        f"{result.pool_cpu_m_max / 1000:,.1f} cores "
        f"({'fits' if result.fits_pool else 'DOES NOT FIT'}), after losing a zone "
        f"{result.pool_cpu_m_zone_loss / 1000:,.1f} cores "
        f"({'survives' if result.survives_zone_loss else 'DOES NOT SURVIVE'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.capacity",
        description="Extrapolate a measured load run to the prod topology (SPEC.md phases).",
    )
    parser.add_argument("--results", type=Path, help="a results.json (default: the latest run)")
    parser.add_argument(
        "--workers-per-pod",
        type=int,
        default=1,
        help="uvicorn worker processes per pod (the chart's TRIPGEN_WORKERS)",
    )
    parser.add_argument(
        "--cpu-speed-ratio",
        type=float,
        default=1.0,
        help="prod vCPU speed / this machine's core speed (default 1.0)",
    )
    parser.add_argument(
        "--tps",
        type=float,
        action="append",
        help="extra target throughputs (req/s) besides SPEC.md's phases",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where to write the plan")
    args = parser.parse_args(argv)
    if args.workers_per_pod < 1 or args.cpu_speed_ratio <= 0:
        parser.error("--workers-per-pod must be ≥ 1 and --cpu-speed-ratio > 0")
    path = args.results or latest_results()
    if path is None or not Path(path).exists():
        console.print(
            "[red]no measured run found[/red]: run `nox -s load` or `nox -s sla-check` "
            "first, or pass --results PATH"
        )
        return 2
    try:
        results = LoadResults.load(Path(path))
        calibration = calibrate(results, args.workers_per_pod)
    except (ValidationError, CalibrationError, ValueError) as exc:
        console.print(f"[red]cannot calibrate from {path}:[/red] {exc}")
        return 2
    deps = deployments(prod_values())
    pool = application_pool("prod")
    console.print(
        f"calibrated from [bold]{path}[/bold] ({results.platform}, {results.users} users, "
        f"{results.actual_duration_s:.0f} s, {results.machine.cores} cores)"
    )
    cal_table = Table(title="calibration (per service)")
    for col in ("service", "share", "demand / req", "source", "p50", "p95", "no-queue p95"):
        cal_table.add_column(col)
    for c in calibration.values():
        cal_table.add_row(
            c.service,
            f"{c.share:.1%}",
            f"{c.demand_s * 1000:.2f} ms",
            c.demand_source,
            f"{c.p50_ms:.0f} ms",
            f"{c.p95_ms:.0f} ms",
            f"{c.base_p95_ms:.0f} ms",
        )
    console.print(cal_table)
    targets = dict(PHASES)
    for tps in args.tps or []:
        targets[f"{tps:,.0f} req/s"] = (tps, 200.0)
    plans = {}
    for name, (tps, p95) in targets.items():
        plans[name] = plan(calibration, deps, pool, tps, p95, args.cpu_speed_ratio)
        _print_plan(name, plans[name])
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / f"capacity-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "results": str(path),
                "workers_per_pod": args.workers_per_pod,
                "cpu_speed_ratio": args.cpu_speed_ratio,
                "calibration": {k: vars(v) for k, v in calibration.items()},
                "plans": {k: v.as_dict() for k, v in plans.items()},
                "caveat": "extrapolated from a measured run with an M/M/c model; "
                "not a production test",
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    console.print(f"plan written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Planner benchmark at the shipped settings: wall and CPU time per trip length, and quality
against the best known solution and, on small instances, the proven optimum.

    python -m scenarios.bench.planner [--runs 20] [--quality-runs 4] [--reference-runs 3]
                                        [--reference-cpu 1.5] [--exact-runs 4] [--exact-limit 60]
                                        [--days 1,3,5,7] [--time-limit S] [--json PATH]

Settings: the time limit ai-service ships (`scenarios.bench.planner_reference.shipped_time_limit`:
services/ai/settings.py and the chart must agree) and the planner's defaults; `--time-limit`
overrides it for smoke runs, and then no verdict is given.

Places: the Seoul rows of services/datainit/data/places.json when the file is there, else a
seeded synthetic Seoul-like set (and the output says which). Each run is a different request
(seeded: start date, lodging near a Seoul hub, pace, mode, preferred categories, budget).

Time: wall time of the whole `plan_itinerary` call (candidates, matrix, model, seed, search,
scheduling, checker) — what ai-service waits for — and the CPU time of the calling thread (what
the call costs, apart from waiting for the CPU on a busy machine). Percentiles are nearest-rank.
Quality: for the first `--quality-runs` requests of each length, score / the best known score,
where score = prize collected − travel cost and the best known is the best of `--reference-runs`
long runs from different starting points (`--reference-cpu` CPU-seconds each) and of the run
itself. Exact: `--exact-runs` one-day trips on small instances (12-15 candidates), score / the
optimum CP-SAT proved for the same instance. Targets: 5-day p95 < 500 ms; quality ≥ 0.95.
Machine: the CPU time of one fixed, deterministic plan before and after the runs
(`scenarios.bench.planner_speed`), so that a slower run can be told from a slower machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from scenarios.bench.planner_reference import (
    ExactPair,
    ShippedSettingsError,
    best_known,
    exact_pair,
    shipped_time_limit,
)
from scenarios.bench.planner_speed import measure_planner_speed
from services.ai.planner.errors import PlanningError
from services.ai.planner.models import GeoPoint, Place, TripRequest
from services.ai.planner.planner import plan_itinerary
from services.ai.planner.solver import SolverOptions
from services.ai.planner.synthetic import seoul_places

DATA_DIR = Path(__file__).resolve().parents[2] / "services" / "datainit" / "data"
PLACES_FILE = DATA_DIR / "places.json"
SEASONAL_FILE = DATA_DIR / "ai" / "seasonal_patterns.json"
ORTOOLS_VERSION = version("ortools")
P95_TARGET_MS = 500.0  # 5-day trips, wall time
QUALITY_TARGET = 0.95
# Hotel areas: City Hall, Myeongdong, Hongdae, Gangnam, Jamsil.
_HUBS = [
    (37.5663, 126.9779),
    (37.5636, 126.9826),
    (37.5563, 126.9236),
    (37.4979, 127.0276),
    (37.5133, 127.1001),
]


@dataclass
class LengthResult:
    days: int
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    infeasible: int = 0
    quality: list[float] = field(default_factory=list)

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.wall_ms if values is None else values)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else float("nan")


@dataclass(frozen=True)
class Budget:
    runs: int
    quality_runs: int
    reference_runs: int
    reference_cpu_s: float
    exact_runs: int
    exact_limit_s: float


def load_places(path: Path, city: str) -> list[Place]:
    """Places of one city from the dev data file (name_en → name; unknown keys ignored)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    fields = set(Place.model_fields)
    places = []
    for row in rows:
        if str(row.get("city", "")).lower() != city.lower():
            continue
        record = {k: v for k, v in row.items() if k in fields}
        record.setdefault("name", row.get("name_en") or row.get("name_ko") or row["id"])
        places.append(Place.model_validate(record))
    return places


def load_seasonal(path: Path) -> dict[int, dict[str, float]]:
    """month → category weights from the dev seasonal patterns, if present."""
    if not path.exists():
        return {}
    return {row["month"]: row["category_weights"] for row in json.loads(path.read_text())}


def make_trip(
    rng: random.Random, days: int, categories: list[str], seasonal: dict[int, dict[str, float]]
) -> TripRequest:
    start = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
    hub_lat, hub_lng = rng.choice(_HUBS)
    return TripRequest(
        start_date=start,
        days=days,
        lodging=GeoPoint(lat=hub_lat + rng.gauss(0, 0.01), lng=hub_lng + rng.gauss(0, 0.01)),
        pace=rng.choice(["relaxed", "normal", "normal", "packed"]),
        mode=rng.choice(["transit", "transit", "walk", "car"]),
        preferred_categories=tuple(rng.sample(categories, rng.randint(0, 2))),
        budget_level=rng.choice([None, 1, 2, 3]),
        seasonal_weights=seasonal.get(start.month),
    )


def _timed(places: list[Place], trip: TripRequest, time_limit: float) -> tuple[Any, float, float]:
    """The plan as ai-service asks for it, with its wall and thread-CPU milliseconds."""
    wall, cpu = time.perf_counter(), time.thread_time()
    plan = plan_itinerary(places, trip, time_limit_s=time_limit)
    return plan, (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def run_length(
    places: list[Place],
    days: int,
    budget: Budget,
    time_limit: float,
    seed: int,
    seasonal: dict[int, dict[str, float]],
) -> LengthResult:
    categories = sorted({p.category for p in places})
    result = LengthResult(days)
    rng = random.Random(seed * 1000 + days)
    for k in range(budget.runs):
        trip = make_trip(rng, days, categories, seasonal)
        try:
            plan, wall_ms, cpu_ms = _timed(places, trip, time_limit)
        except PlanningError:
            result.infeasible += 1
            continue
        result.wall_ms.append(wall_ms)
        result.cpu_ms.append(cpu_ms)
        result.visits.append(plan.totals.visits)
        result.statuses[plan.status] = result.statuses.get(plan.status, 0) + 1
        if k < budget.quality_runs:
            scores = best_known(
                places,
                trip,
                budget.reference_runs,
                budget.reference_cpu_s,
                base=SolverOptions(time_limit_s=time_limit),
            )
            best = max([*scores, plan.score])
            if best > 0:
                result.quality.append(plan.score / best)
    return result


def run_exact(
    places: list[Place],
    budget: Budget,
    time_limit: float,
    seed: int,
    seasonal: dict[int, dict[str, float]],
) -> list[ExactPair]:
    categories = sorted({p.category for p in places})
    rng = random.Random(seed * 1000 + 999)
    pairs: list[ExactPair] = []
    for _ in range(budget.exact_runs):
        trip = make_trip(rng, 1, categories, seasonal)
        try:
            pairs.append(exact_pair(places, trip, time_limit, budget.exact_limit_s))
        except PlanningError:
            continue
    return pairs


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _verdict(ok: bool | None) -> str:
    return "NOT JUDGED" if ok is None else "MET" if ok else "MISS"


def verdicts(
    results: list[LengthResult], pairs: list[ExactPair], shipped: bool
) -> dict[str, bool | None]:
    """MET (True) / MISS (False) per target; None: not judged (not at the shipped settings, or
    nothing measured)."""
    five = next((r for r in results if r.days == 5 and r.wall_ms), None)
    quality = [q for r in results for q in r.quality]
    exact = [q for p in pairs if (q := p.quality) is not None]
    judged = {
        f"5-day p95 < {P95_TARGET_MS:g} ms": (
            five.percentile(0.95) < P95_TARGET_MS if five else None
        ),
        f"quality >= {QUALITY_TARGET} of the best known (min)": (
            min(quality) >= QUALITY_TARGET if quality else None
        ),
        f"quality >= {QUALITY_TARGET} of the proven optimum (min)": (
            min(exact) >= QUALITY_TARGET if exact else None
        ),
    }
    return {k: (v if shipped else None) for k, v in judged.items()}


def report(
    results: list[LengthResult],
    pairs: list[ExactPair],
    console: Console,
    time_limit: float,
    shipped: bool,
) -> dict[str, Any]:
    label = "shipped" if shipped else "NOT the shipped setting"
    table = Table(title=f"Planner benchmark (time limit {time_limit:.2f} s, {label})")
    columns = ("days", "runs", "p50 ms", "p95 ms", "max ms", "CPU p95 ms", "visits")
    for column in (*columns, "q n", "q mean", "q min"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.days),
            str(len(r.wall_ms)) + (f" ({r.infeasible} infeasible)" if r.infeasible else ""),
            f"{r.percentile(0.5):.0f}",
            f"{r.percentile(0.95):.0f}",
            f"{max(r.wall_ms, default=float('nan')):.0f}",
            f"{r.percentile(0.95, r.cpu_ms):.0f}",
            f"{_mean([float(v) for v in r.visits]):.1f}",
            str(len(r.quality)),
            f"{_mean(r.quality):.3f}",
            f"{min(r.quality, default=float('nan')):.3f}",
        )
    console.print(table)
    quality = [q for r in results for q in r.quality]
    exact = [q for p in pairs if (q := p.quality) is not None]
    console.print(
        f"quality vs best known: n={len(quality)}, mean {_mean(quality):.3f}, min "
        f"{min(quality, default=float('nan')):.3f}; vs proven optimum (one day, "
        f"{'/'.join(sorted({str(p.candidates) for p in pairs}))} candidates): n={len(exact)} "
        f"of {len(pairs)} proven, mean {_mean(exact):.3f}, min "
        f"{min(exact, default=float('nan')):.3f}"
    )
    judged = verdicts(results, pairs, shipped)
    console.print("targets: " + ", ".join(f"{k}: {_verdict(v)}" for k, v in judged.items()))
    return {
        "verdicts": judged,
        "quality": {"n": len(quality), "mean": _mean(quality), "min": min(quality, default=None)},
        "exact": {
            "n": len(pairs),
            "proven": len(exact),
            "mean": _mean(exact),
            "min": min(exact, default=None),
            "pairs": [
                {"planner_score": p.planner_score, "candidates": p.candidates, **asdict(p.exact)}
                for p in pairs
            ],
        },
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="requests per trip length")
    parser.add_argument(
        "--quality-runs", type=int, default=4, help="of those, how many are compared"
    )
    parser.add_argument("--reference-runs", type=int, default=3, help="long runs per compared")
    parser.add_argument("--reference-cpu", type=float, default=1.5, help="CPU-s per long run")
    parser.add_argument("--exact-runs", type=int, default=4, help="small one-day instances")
    parser.add_argument("--exact-limit", type=float, default=60.0, help="CP-SAT seconds each")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="override the shipped limit (no verdicts)"
    )
    parser.add_argument("--days", default="1,3,5,7", help="comma-separated trip lengths")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--places", type=Path, default=PLACES_FILE)
    parser.add_argument("--city", default="Seoul")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(width=max(Console().width, 110))  # the table is ~100 columns wide
    try:
        shipped_limit = shipped_time_limit()
    except ShippedSettingsError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    time_limit = shipped_limit if args.time_limit is None else args.time_limit
    shipped = time_limit == shipped_limit
    if args.places.exists():
        places = load_places(args.places, args.city)
        source = f"{args.places} ({args.city}: {len(places)} places)"
    else:
        places = seoul_places()
        source = f"synthetic Seoul-like set ({len(places)} places, seed 7): {args.places} absent"
    seasonal = load_seasonal(SEASONAL_FILE)
    load = os.getloadavg()
    console.print(f"places: {source}")
    console.print(
        f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} at start (shared with "
        f"other work: wall times vary run to run, CPU times much less); ortools "
        f"{ORTOOLS_VERSION}, Python {platform.python_version()}"
    )
    budget = Budget(
        args.runs,
        min(args.quality_runs, args.runs),
        args.reference_runs,
        args.reference_cpu,
        args.exact_runs,
        args.exact_limit,
    )
    warm = make_trip(random.Random(args.seed), 1, sorted({p.category for p in places}), seasonal)
    plan_itinerary(places, warm, time_limit_s=time_limit)  # imports, first-call costs: untimed
    speed_before = measure_planner_speed(places)
    console.print(speed_before.describe())
    results = []
    for days in [int(d) for d in args.days.split(",")]:
        result = run_length(places, days, budget, time_limit, args.seed, seasonal)
        console.print(
            f"  {days}-day: {len(result.wall_ms)} runs, p95 {result.percentile(0.95):.0f} ms"
        )
        results.append(result)
    pairs = run_exact(places, budget, time_limit, args.seed, seasonal)
    speed_after = measure_planner_speed(places)
    summary = report(results, pairs, console, time_limit, shipped)
    console.print(f"{speed_after.describe()}, after the runs ({speed_before.cpu_ms:.0f} before)")
    if args.json:
        payload = {
            "places": source,
            "time_limit_s": time_limit,
            "shipped_time_limit_s": shipped_limit,
            "at_shipped_settings": shipped,
            "budget": asdict(budget),
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "load_average_start": load[0],
            "load_average_end": os.getloadavg()[0],
            "ortools": ORTOOLS_VERSION,
            "planner_speed": {"before": asdict(speed_before), "after": asdict(speed_after)},
            "targets": {"p95_ms_5_day": P95_TARGET_MS, "quality": QUALITY_TARGET},
            "results": [
                {
                    **asdict(r),
                    "p50_ms": r.percentile(0.5),
                    "p95_ms": r.percentile(0.95),
                    "cpu_p95_ms": r.percentile(0.95, r.cpu_ms),
                    "quality_mean": _mean(r.quality),
                }
                for r in results
            ],
            **summary,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        console.print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Planner benchmark: wall time per trip length and solution quality against a 10× longer run.

    python -m scenarios.bench.planner [--runs 10] [--quality-runs 3] [--time-limit 0.7]
                                        [--days 1,3,5,7] [--json PATH]

Places: the Seoul rows of services/datainit/data/places.json when the file is there, else a
seeded synthetic Seoul-like set (and the output says which). Each run is a different request
(seeded: start date, lodging near a Seoul hub, pace, mode, preferred categories, budget).

Time: wall time of the whole `plan_itinerary` call (candidates, matrix, model, seed, search,
scheduling, checker) — what ai-service waits for. Percentiles are nearest-rank.
Quality: for the first `--quality-runs` requests of each length, score(default limit) /
score(10× the limit, no stall stop), where score = prize collected − travel cost (the
maximisation form of the solver's objective without its constant: objective = all candidates'
prizes − score). Higher is better; 1.0 means the default run found what the long run found.
Targets: 5-day p95 < 1 s; quality ≥ 0.95.
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
from pathlib import Path
from typing import Any

import ortools
from rich.console import Console
from rich.table import Table

from services.ai.planner.errors import PlanningError
from services.ai.planner.models import GeoPoint, Place, TripRequest
from services.ai.planner.planner import plan_itinerary
from services.ai.planner.solver import DEFAULT_TIME_LIMIT_S, SolverOptions
from services.ai.planner.synthetic import seoul_places

DATA_DIR = Path(__file__).resolve().parents[2] / "services" / "datainit" / "data"
PLACES_FILE = DATA_DIR / "places.json"
SEASONAL_FILE = DATA_DIR / "ai" / "seasonal_patterns.json"
P95_TARGET_MS = 1000.0  # 5-day trips
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
    visits: list[int] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    infeasible: int = 0
    quality: list[float] = field(default_factory=list)
    prize_ratio: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.wall_ms)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else float("nan")


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


def run(
    places: list[Place],
    *,
    day_lengths: list[int],
    runs: int,
    quality_runs: int,
    time_limit: float,
    seed: int,
    seasonal: dict[int, dict[str, float]],
    console: Console,
) -> list[LengthResult]:
    categories = sorted({p.category for p in places})
    options = SolverOptions(time_limit_s=time_limit)
    long_options = SolverOptions(time_limit_s=10 * time_limit, stall_s=None)
    warm = make_trip(random.Random(seed), 1, categories, seasonal)
    plan_itinerary(places, warm, options=options)  # imports and first-call costs, not timed
    results = []
    for days in day_lengths:
        result = LengthResult(days)
        rng = random.Random(seed * 1000 + days)
        for k in range(runs):
            trip = make_trip(rng, days, categories, seasonal)
            started = time.perf_counter()
            try:
                fast = plan_itinerary(places, trip, options=options)
            except PlanningError:
                result.infeasible += 1
                continue
            result.wall_ms.append((time.perf_counter() - started) * 1000)
            result.visits.append(fast.totals.visits)
            result.statuses[fast.status] = result.statuses.get(fast.status, 0) + 1
            if k < quality_runs:
                slow = plan_itinerary(places, trip, options=long_options)
                if slow.score > 0:
                    result.quality.append(fast.score / slow.score)
                if slow.totals.prize > 0:
                    result.prize_ratio.append(fast.totals.prize / slow.totals.prize)
        console.print(
            f"  {days}-day: {len(result.wall_ms)} runs, p95 {result.percentile(0.95):.0f} ms"
            + (
                f", quality {min(result.quality):.3f}–{max(result.quality):.3f}"
                if result.quality
                else ""
            )
        )
        results.append(result)
    return results


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def report(results: list[LengthResult], console: Console, time_limit: float) -> dict[str, Any]:
    table = Table(title=f"Planner benchmark (default time limit {time_limit:.2f} s)")
    for column in (
        "days",
        "runs",
        "p50 ms",
        "p95 ms",
        "max ms",
        "visits",
        "q runs",
        "q mean",
        "q min",
        "prize r.",
        "verdict",
    ):
        table.add_column(column, justify="right")
    verdicts: dict[str, bool] = {}
    for r in results:
        p95 = r.percentile(0.95)
        row_verdicts: list[str] = []
        if r.days == 5:
            verdicts["5-day p95 < 1 s"] = p95 < P95_TARGET_MS
            row_verdicts.append("p95 " + ("PASS" if p95 < P95_TARGET_MS else "MISS"))
        if r.quality:
            ok = _mean(r.quality) >= QUALITY_TARGET
            verdicts[f"{r.days}-day quality >= {QUALITY_TARGET}"] = ok
            row_verdicts.append("q " + ("PASS" if ok else "MISS"))
        table.add_row(
            str(r.days),
            str(len(r.wall_ms)) + (f" ({r.infeasible} infeasible)" if r.infeasible else ""),
            f"{r.percentile(0.5):.0f}",
            f"{p95:.0f}",
            f"{max(r.wall_ms, default=float('nan')):.0f}",
            f"{_mean([float(v) for v in r.visits]):.1f}",
            str(len(r.quality)),
            f"{_mean(r.quality):.3f}",
            f"{min(r.quality, default=float('nan')):.3f}",
            f"{_mean(r.prize_ratio):.3f}",
            ", ".join(row_verdicts),
        )
    console.print(table)
    all_quality = [q for r in results for q in r.quality]
    console.print(
        f"quality over all lengths: mean {_mean(all_quality):.3f}, min "
        f"{min(all_quality, default=float('nan')):.3f} (n={len(all_quality)}); verdicts: "
        + ", ".join(f"{k}: {'PASS' if v else 'MISS'}" for k, v in verdicts.items())
    )
    return {"verdicts": verdicts, "quality_mean": _mean(all_quality)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="requests per trip length")
    parser.add_argument(
        "--quality-runs", type=int, default=3, help="of those, how many also get a 10x run"
    )
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S)
    parser.add_argument("--days", default="1,3,5,7", help="comma-separated trip lengths")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--places", type=Path, default=PLACES_FILE)
    parser.add_argument("--city", default="Seoul")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 110))  # the table is ~100 columns wide

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
        f"other work: figures vary run to run); ortools {ortools.__version__}, "
        f"Python {platform.python_version()}"
    )
    results = run(
        places,
        day_lengths=[int(d) for d in args.days.split(",")],
        runs=args.runs,
        quality_runs=min(args.quality_runs, args.runs),
        time_limit=args.time_limit,
        seed=args.seed,
        seasonal=seasonal,
        console=console,
    )
    summary = report(results, console, args.time_limit)
    if args.json:
        payload = {
            "places": source,
            "time_limit_s": args.time_limit,
            "runs": args.runs,
            "quality_runs": args.quality_runs,
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "load_average_start": load[0],
            "load_average_end": os.getloadavg()[0],
            "ortools": ortools.__version__,
            "targets": {"p95_ms_5_day": P95_TARGET_MS, "quality": QUALITY_TARGET},
            "results": [
                {
                    **asdict(r),
                    "p50_ms": r.percentile(0.5),
                    "p95_ms": r.percentile(0.95),
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

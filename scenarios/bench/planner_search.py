"""The planner's search settings compared on the same requests: CPU per plan and quality.

    python -m scenarios.bench.planner_search [--requests 30] [--runs 2] [--reference-runs 3]
                                               [--reference-cpu 1.5] [--seed 7] [--json PATH]

What `nox -s bench-planner` measures is the shipped search; this shows what each of its settings
contributes, on requests shaped like the AI benchmark's generations: Seoul, 1-5 days weighted as
the load journeys ask for them (`scenarios.load.locustfiles.plans.trip_body`), each request made
as `scenarios.bench.planner` makes them (seeded: start date, lodging near a hub, pace, mode,
categories, budget). A request the planner refuses is replaced by the next one.

Each request's best known score is computed once, by the benchmark's reference runs
(`scenarios.bench.planner_reference.best_known`), and every setting's run counts among the
candidates for it, so quality is at most 1. Each setting plans every request `--runs` times (a
time-limited search is not reproducible to the move). CPU = the calling thread's CPU time of the
whole `plan_itinerary` call, so it does not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from runs.quantiles import percentile
from scenarios.bench.planner import (
    PLACES_FILE,
    SEASONAL_FILE,
    load_places,
    load_seasonal,
    make_trip,
)
from scenarios.bench.planner_reference import best_known, shipped_time_limit
from services.ai.planner.errors import PlanningError
from services.ai.planner.models import Place, TripRequest
from services.ai.planner.planner import plan_itinerary
from services.ai.planner.solver import SolverOptions

# Trip lengths as the load journeys draw them (plans.trip_body: 1-5 days, weights 1/3/4/3/1).
DAYS = (1, 2, 3, 4, 5)
DAY_WEIGHTS = (1, 3, 4, 3, 1)

# name → what differs from the shipped options (SolverOptions' defaults)
SEARCHES: dict[str, dict[str, Any]] = {
    "shipped": {},
    "a second search whatever the first one cost": {"later_start_below_s": None},
    "one start (the better seed)": {"starts": 1},
    "guided local search, one start": {"metaheuristic": "GUIDED_LOCAL_SEARCH", "starts": 1},
    "guided local search, one start, LNS limit 0.1 s (OR-Tools' default)": {
        "metaheuristic": "GUIDED_LOCAL_SEARCH",
        "starts": 1,
        "lns_time_limit_s": 0.1,
    },
}


@dataclass
class SearchResult:
    name: str
    overrides: dict[str, Any]
    cpu_ms: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        return {
            "n": len(self.cpu_ms),
            "cpu_mean_ms": sum(self.cpu_ms) / len(self.cpu_ms),
            "cpu_p95_ms": percentile(self.cpu_ms, 0.95),
            "quality_mean": sum(self.quality) / len(self.quality),
            "quality_min": min(self.quality),
        }


@dataclass(frozen=True)
class Request:
    trip: TripRequest
    best_known: float


def plannable_requests(
    places: list[Place], count: int, seed: int, reference_runs: int, reference_cpu_s: float
) -> list[Request]:
    """`count` requests the shipped planner accepts, each with its best known score."""
    seasonal = load_seasonal(SEASONAL_FILE)
    categories = sorted({p.category for p in places})
    rng = random.Random(seed)
    requests: list[Request] = []
    while len(requests) < count:
        days = rng.choices(DAYS, weights=DAY_WEIGHTS, k=1)[0]
        trip = make_trip(rng, days, categories, seasonal)
        try:
            plan_itinerary(places, trip)
        except PlanningError:
            continue
        scores = best_known(places, trip, reference_runs, reference_cpu_s, base=SolverOptions())
        requests.append(Request(trip, max(scores)))
    return requests


def compare(
    places: list[Place],
    requests: list[Request],
    runs: int,
    time_limit_s: float,
    searches: dict[str, dict[str, Any]] = SEARCHES,
) -> list[SearchResult]:
    """Every search on every request, `runs` times; a run better than the best known raises it
    (for every search's quality, which is therefore computed at the end)."""
    results = [SearchResult(name, overrides) for name, overrides in searches.items()]
    scores: list[list[list[float]]] = [[] for _ in results]  # [search][request] → run scores
    best = [r.best_known for r in requests]
    for result, search_scores in zip(results, scores, strict=True):
        options = replace(SolverOptions(time_limit_s=time_limit_s), **result.overrides)
        for k, request in enumerate(requests):
            runs_scores = []
            for _ in range(runs):
                started = time.thread_time()
                plan = plan_itinerary(places, request.trip, options=options)
                result.cpu_ms.append((time.thread_time() - started) * 1000)
                runs_scores.append(plan.score)
                best[k] = max(best[k], plan.score)
            search_scores.append(runs_scores)
    for result, search_scores in zip(results, scores, strict=True):
        result.quality = [
            score / best[k] if best[k] > 0 else 1.0
            for k, runs_scores in enumerate(search_scores)
            for score in runs_scores
        ]
    return results


def report(results: list[SearchResult], console: Console) -> None:
    table = Table(title="Planner search settings on the same requests")
    for column in ("search", "n", "CPU mean ms", "CPU p95 ms", "q mean", "q min"):
        table.add_column(column, justify="left" if column == "search" else "right")
    for result in results:
        s = result.summary()
        table.add_row(
            result.name,
            str(s["n"]),
            f"{s['cpu_mean_ms']:.0f}",
            f"{s['cpu_p95_ms']:.0f}",
            f"{s['quality_mean']:.3f}",
            f"{s['quality_min']:.3f}",
        )
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="requests (1-5 days)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each search per request")
    parser.add_argument("--reference-runs", type=int, default=3, help="long runs per request")
    parser.add_argument("--reference-cpu", type=float, default=1.5, help="CPU-s per long run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--places", type=Path, default=PLACES_FILE)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(width=max(Console().width, 110))
    if not args.places.exists():
        console.print(f"[bold red]error:[/] no places file at {args.places}")
        return 2
    if args.requests < 1 or args.runs < 1 or args.reference_runs < 1:
        console.print("[bold red]error:[/] --requests, --runs and --reference-runs must be ≥ 1")
        return 2
    if not args.reference_cpu > 0:
        console.print(f"[bold red]error:[/] --reference-cpu must be > 0, got {args.reference_cpu}")
        return 2
    places = load_places(args.places, "Seoul")
    time_limit = shipped_time_limit()
    console.print(
        f"{args.requests} requests, {len(places)} Seoul places; best known of "
        f"{args.reference_runs} × {args.reference_cpu:g} CPU-s each …"
    )
    requests = plannable_requests(
        places, args.requests, args.seed, args.reference_runs, args.reference_cpu
    )
    console.print(f"{len(SEARCHES)} searches × {args.runs} runs …")
    results = compare(places, requests, args.runs, time_limit)
    report(results, console)
    if args.json:
        payload = {
            "requests": args.requests,
            "runs": args.runs,
            "seed": args.seed,
            "reference_runs": args.reference_runs,
            "reference_cpu_s": args.reference_cpu,
            "time_limit_s": time_limit,
            "days": [r.trip.days for r in requests],
            "searches": [{**asdict(r), **r.summary()} for r in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        console.print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""AI itinerary generation end to end at a fixed concurrency: request → status `done`.

`concurrency` workers, each with its own account and a new trip per round, request an
itinerary, wait for the trip-service's schedule (what the app shows the user) to be done or
failed, and repeat `rounds` times. The wait is the route's long poll (`wait_s`, up to `wait_s`
seconds a request, asked again until `deadline_s`): the answer comes when trip-service's
read model has the result, so the figure has no polling interval in it, and the client costs one
request per generation instead of one every 50 ms (which used about a third of the machine's
CPU per generation — `client` and most of `trip` in the benchmark's CPU table).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from runs import quantiles
from scenarios.load.locustfiles import plans, routes
from scenarios.load.locustfiles.catalog import CITY_BY_NAME


@dataclass(frozen=True)
class Generation:
    ms: float
    status: str  # done | failed | timed out (…) | not accepted (HTTP …)

    @property
    def ok(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class AiBenchResult:
    concurrency: int
    generations: list[Generation]
    wall_s: float
    # CPU-seconds per process class over the run, net of idle, and ms per generation: filled in
    # by the benchmark (`scenarios.bench.measure.measure_ai`), empty when nothing was metered.
    cpu_seconds_net_of_idle: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_generation: dict[str, float] = field(default_factory=dict)
    # The machine's planner speed just before the run (`scenarios.bench.planner_speed`): the
    # planner's CPU bounds this case, and that speed drifts on a shared machine.
    planner_speed_ms: float | None = None

    @property
    def failed(self) -> int:
        return sum(not g.ok for g in self.generations)

    def percentile(self, q: float) -> float | None:
        """Over every generation; a failed one counts as slower than any that finished."""
        if not self.generations:
            return None
        values = [g.ms if g.ok else float("inf") for g in self.generations]
        return quantiles.percentile(values, q)


async def _generate(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    trip_id: str,
    *,
    wait_s: float,
    deadline_s: float,
) -> Generation:
    started = time.perf_counter()
    accepted = await client.post(routes.SCHEDULE_REQUEST.path(trip_id=trip_id), headers=headers)
    if accepted.status_code != 202:
        return Generation(
            (time.perf_counter() - started) * 1000, f"not accepted (HTTP {accepted.status_code})"
        )
    ids = {"trip_id": trip_id, "schedule_id": accepted.json()["schedule_id"]}
    status = "pending"
    while (left := deadline_s - (time.perf_counter() - started)) > 0:  # bounded by the deadline
        wait = {"wait_s": f"{min(wait_s, left):.3f}"}
        response = await client.get(routes.SCHEDULE_WAIT.path(**ids), params=wait, headers=headers)
        if response.status_code == 200:
            status = str(response.json().get("status"))
            if status in ("done", "failed"):
                return Generation((time.perf_counter() - started) * 1000, status)
        else:
            await asyncio.sleep(0.5)  # an error answer: do not spin on it
    return Generation((time.perf_counter() - started) * 1000, f"timed out ({status})")


async def _worker(
    client: httpx.AsyncClient,
    account: dict[str, str],
    body: dict[str, Any],
    rounds: int,
    *,
    wait_s: float,
    deadline_s: float,
) -> list[Generation]:
    headers = {"Authorization": f"Bearer {account['access_token']}"}
    generations = []
    for _ in range(rounds):
        # A new trip each round: the ai-service caches results per trip (`ai:schedule:{tripId}:
        # {hash}`), and a cached itinerary would time the cache, not the generation.
        trip = await client.post(routes.TRIP_CREATE.path(), json=body, headers=headers)
        if trip.status_code != 201:
            generations.append(Generation(0.0, f"not accepted (trip: HTTP {trip.status_code})"))
            continue
        generations.append(
            await _generate(
                client, headers, trip.json()["id"], wait_s=wait_s, deadline_s=deadline_s
            )
        )
    return generations


async def _run(
    base_url: str,
    accounts: list[dict[str, str]],
    bodies: list[dict[str, Any]],
    *,
    concurrency: int,
    rounds: int,
    wait_s: float,
    deadline_s: float,
) -> AiBenchResult:
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:
        started = time.perf_counter()
        batches = await asyncio.gather(
            *(
                _worker(
                    client,
                    accounts[i % len(accounts)],
                    bodies[i % len(bodies)],
                    rounds,
                    wait_s=wait_s,
                    deadline_s=deadline_s,
                )
                for i in range(concurrency)
            )
        )
        wall = time.perf_counter() - started
    return AiBenchResult(concurrency, [g for batch in batches for g in batch], wall)


def run_ai_bench(
    base_url: str,
    accounts: list[dict[str, str]],
    *,
    concurrency: int = 10,
    rounds: int = 4,
    wait_s: float = routes.LONG_POLL_MAX_S,
    deadline_s: float = 30.0,
) -> AiBenchResult:
    """`concurrency × rounds` generations; trips in Seoul with 2–3 must-visit places."""
    rng = random.Random(11)
    city = CITY_BY_NAME["Seoul"]
    today = datetime.now(UTC).date()
    seoul_ids = ["seoul-gyeongbokgung", "seoul-deoksugung", "seoul-seoul-plaza"]
    bodies = [plans.trip_body(rng, city, seoul_ids, today) for _ in range(concurrency)]
    return asyncio.run(
        _run(
            base_url,
            accounts,
            bodies,
            concurrency=concurrency,
            rounds=rounds,
            wait_s=wait_s,
            deadline_s=deadline_s,
        )
    )

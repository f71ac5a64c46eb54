"""`python -m services.ai.generation_bench`: AI generation end to end against a running stack.

Sends `--count` generation messages at once to `ai-schedule-generation` (as trip-service does,
each for its own trip and lodging so none is served from the cache), waits until ai-service has
finished them all, and prints how long each spent waiting in the queue, generating, and in all,
as p50 / p95 / max. SPEC.md's targets: < 10 s (dev), < 5 s p95 (prod phase 1).

It reads the same settings as the service (`TRIPGEN_DATABASE_URL`, `TRIPGEN_REDIS_URL`,
`TRIPGEN_QUEUE_BACKEND`, …), so point it at the stack under test; tune the service with
`TRIPGEN_AI_WORKER_CONCURRENCY`, `TRIPGEN_AI_PLANNER_PROCESSES` and
`TRIPGEN_AI_PLANNER_TIME_LIMIT_S`. Timings come from ai_db (when a delivery claimed and
finished the schedule) against this process's clock at sending: run it on the same host.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from services.ai.messages import ai_topics
from services.ai.settings import AISettings
from services.kit.db import open_pool, schema_of
from services.kit.queue import AI_SCHEDULE_QUEUE, build_queue

# The lodging of request i moves ~110 m north per request: distinct requests, similar plans.
_LODGING = (37.5665, 126.978)
_LODGING_STEP = 0.001


@dataclass(frozen=True)
class Timing:
    status: str
    queued_s: float  # sent → claimed by a worker
    generating_s: float  # claimed → finished
    total_s: float  # sent → finished


def generation_message(
    index: int, city: str, start: date, days: int, must_visit: list[str]
) -> dict[str, Any]:
    return {
        "schedule_id": str(uuid.uuid4()),
        "trip_id": str(uuid.uuid4()),
        "requested_by": str(uuid.uuid4()),
        "requested_at": datetime.now(UTC).isoformat(),
        "request": {
            "city": city,
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=days - 1)).isoformat(),
            "travellers": 2,
            "budget": "medium",
            "pace": "normal",
            "preferred_categories": ["culture", "food"],
            "must_visit": must_visit,
            "lodging": {"lat": _LODGING[0] + index * _LODGING_STEP, "lng": _LODGING[1]},
            "mode": "transit",
            "wishes": None,
        },
    }


async def run(
    settings: AISettings,
    *,
    count: int,
    city: str,
    days: int,
    start: date,
    must_visit: list[str],
    timeout_s: float,
) -> list[Timing]:
    redis = Redis.from_url(settings.redis_url)
    queue = build_queue(settings, redis, topics=ai_topics())
    pool = await open_pool(settings.database_url, schema=schema_of("ai"), wait=True)
    try:
        messages = [generation_message(i, city, start, days, must_visit) for i in range(count)]
        sent_at = datetime.now(UTC)
        await asyncio.gather(
            *(
                queue.send(
                    AI_SCHEDULE_QUEUE,
                    m,
                    message_id=m["schedule_id"],
                    session_id=m["trip_id"],
                )
                for m in messages
            )
        )
        ids = [m["schedule_id"] for m in messages]
        deadline = time.monotonic() + timeout_s
        while True:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT status, started_at, finished_at FROM schedules"
                    " WHERE id = ANY(%s::uuid[]) AND status IN ('done', 'failed')",
                    (ids,),
                )
                rows: list[dict[str, Any]] = await cur.fetchall()
            if len(rows) == count:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(rows)} of {count} generations finished in {timeout_s} s")
            await asyncio.sleep(0.05)
        return [
            Timing(
                status=r["status"],
                queued_s=(r["started_at"] - sent_at).total_seconds(),
                generating_s=(r["finished_at"] - r["started_at"]).total_seconds(),
                total_s=(r["finished_at"] - sent_at).total_seconds(),
            )
            for r in rows
        ]
    finally:
        await pool.close()
        await queue.close()
        await redis.aclose()


def _percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(timings: list[Timing]) -> str:
    lines = [f"{'':12} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"]
    for label, values in (
        ("queued", [t.queued_s for t in timings]),
        ("generating", [t.generating_s for t in timings]),
        ("end to end", [t.total_s for t in timings]),
    ):
        lines.append(
            f"{label:12} {_percentile(values, 50):7.2f} {_percentile(values, 95):7.2f} "
            f"{max(values):7.2f}"
        )
    statuses = {s: sum(t.status == s for t in timings) for s in ("done", "failed")}
    lines.append(
        f"{len(timings)} generations: {statuses['done']} done, {statuses['failed']} failed"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ai.generation_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--count", type=int, default=10, help="generations sent at once")
    parser.add_argument("--city", default="Seoul")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 4, 1))
    parser.add_argument("--must-visit", default="", help="comma-separated place ids")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    args = parser.parse_args(argv)
    try:
        timings = asyncio.run(
            run(
                AISettings(),
                count=args.count,
                city=args.city,
                days=args.days,
                start=args.start,
                must_visit=[p for p in args.must_visit.split(",") if p],
                timeout_s=args.timeout,
            )
        )
    except TimeoutError as exc:
        print(f"generation benchmark: {exc}", file=sys.stderr)
        return 1
    print(report(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writes during a PostgreSQL restart, and the check that nothing was half-written.

`write_trips` (run as a background activity) creates trips through the front door while the
database restarts. Each logical write is retried only when the service said it did not happen —
503 with Retry-After, honoured — and its final outcome is appended to `pg_writes.jsonl`:
`created` (201, with the trip id), `rejected` (503 + Retry-After on the last attempt) or `other`
(anything else: a contract violation). `writes_accounted` then compares the client's view with
the rows: every created trip exactly once with its `trip.created` outbox message (trip and
message are one transaction), no row for a rejected one, and no other outcome at all.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import psycopg
from pydantic import AwareDatetime, BaseModel

from chaos.accounts import Account, pool
from chaos.context import Configuration, context_from
from chaos.events import current_experiment, experiment_started_at
from runs.jsonl import append_jsonl, read_jsonl

WRITES_FILE = "pg_writes.jsonl"
WRITERS = 2  # concurrent writers; their accounts come from the experiment's pool


class WriteOutcome(BaseModel):
    timestamp: AwareDatetime
    title: str
    outcome: Literal["created", "rejected", "other"]
    trip_id: str | None = None
    attempts: int
    statuses: list[int | str]
    retry_after: list[str | None]


def _trip_body(title: str) -> dict[str, Any]:
    start = date.today() + timedelta(days=30)
    return {
        "title": title,
        "destination_city": "Seoul",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=2)).isoformat(),
    }


def write_once(
    client: httpx.Client, user: Account, title: str, max_attempts: int, max_wait_s: float
) -> WriteOutcome:
    """One logical write: POST, retried after Retry-After while the answer is 503."""
    started = datetime.now(UTC)
    statuses: list[int | str] = []
    retry_after: list[str | None] = []
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.post("/api/trips", json=_trip_body(title), headers=user.headers)
        except httpx.HTTPError as exc:
            # The request may or may not have reached the database: never retried.
            statuses.append(type(exc).__name__)
            retry_after.append(None)
            return WriteOutcome(
                timestamp=started,
                title=title,
                outcome="other",
                attempts=attempt,
                statuses=statuses,
                retry_after=retry_after,
            )
        statuses.append(response.status_code)
        retry_after.append(response.headers.get("retry-after"))
        if response.status_code == 201:
            return WriteOutcome(
                timestamp=started,
                title=title,
                outcome="created",
                trip_id=str(response.json()["id"]),
                attempts=attempt,
                statuses=statuses,
                retry_after=retry_after,
            )
        if response.status_code != 503 or retry_after[-1] is None:
            break
        if attempt < max_attempts:
            time.sleep(min(float(retry_after[-1] or 1), max_wait_s))
    outcome: Literal["rejected", "other"] = (
        "rejected" if statuses[-1] == 503 and retry_after[-1] is not None else "other"
    )
    return WriteOutcome(
        timestamp=started,
        title=title,
        outcome=outcome,
        attempts=len(statuses),
        statuses=statuses,
        retry_after=retry_after,
    )


def write_trips(
    duration_s: float = 20.0,
    interval_s: float = 1.0,
    max_attempts: int = 4,
    max_wait_s: float = 10.0,
    configuration: Configuration | None = None,
) -> dict[str, Any]:
    """Create trips for `duration_s`, one per `interval_s` per writer account; returns counts."""
    context = context_from(configuration)
    out = context.run_dir / WRITES_FILE
    tag = uuid.uuid4().hex[:8]
    experiment = current_experiment(context.run_dir)
    accounts = pool(context.base_url, context.run_dir, f"writer-{experiment}")
    deadline = time.monotonic() + duration_s

    def writer(index: int) -> None:
        with httpx.Client(base_url=context.base_url, timeout=10.0) as client:
            number = 0
            while time.monotonic() < deadline:
                began = time.monotonic()
                number += 1
                user = accounts.take()
                title = f"chaos-pg {tag} w{index} #{number}"
                append_jsonl(out, write_once(client, user, title, max_attempts, max_wait_s))
                time.sleep(max(0.0, interval_s - (time.monotonic() - began)))

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Bounded: the last write may retry up to max_attempts × max_wait_s past the deadline.
        thread.join(duration_s + max_attempts * (max_wait_s + 10.0))
    return _counts(read_writes(context.run_dir, experiment_started_at(context.run_dir)))


def read_writes(run_dir: Path, since: datetime) -> list[WriteOutcome]:
    return [w for w in read_jsonl(run_dir / WRITES_FILE, WriteOutcome) if w.timestamp >= since]


def _counts(writes: list[WriteOutcome]) -> dict[str, Any]:
    return {
        "writes": len(writes),
        "created": sum(w.outcome == "created" for w in writes),
        "created_after_retry": sum(w.outcome == "created" and w.attempts > 1 for w in writes),
        "rejected_503": sum(w.outcome == "rejected" for w in writes),
        "other_failures": sum(w.outcome == "other" for w in writes),
    }


def _rows(dsn: str, titles: list[str]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Trip ids per title, and trip.created outbox messages per trip id."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        trips: dict[str, list[str]] = {}
        for trip_id, title in conn.execute(
            "SELECT id::text, title FROM trip_db.trips WHERE title = ANY(%s)", (titles,)
        ):
            trips.setdefault(title, []).append(trip_id)
        ids = [i for found in trips.values() for i in found]
        messages: dict[str, int] = dict(
            conn.execute(
                "SELECT body->>'trip_id', count(*) FROM trip_db.outbox "
                "WHERE body->>'type' = 'trip.created' AND body->>'trip_id' = ANY(%s) GROUP BY 1",
                (ids,),
            ).fetchall()
        )
    return trips, {k: int(v) for k, v in messages.items()}


def writes_accounted(configuration: Configuration | None = None) -> dict[str, Any]:
    """Client-side outcomes of this experiment's writes against the database rows."""
    context = context_from(configuration)
    writes = read_writes(context.run_dir, experiment_started_at(context.run_dir))
    result: dict[str, Any] = _counts(writes)
    dsn = context.open_platform().endpoints().dependencies.get("postgresql")
    if not writes:
        return {
            **result,
            "acknowledged_lost": 0,
            "balanced": True,
            "failures_were_503_retry_after": True,
        }
    if not dsn:
        return {**result, "balanced": None, "why": "the database is not reachable from here"}
    trips, messages = _rows(dsn, [w.title for w in writes])
    problems: list[str] = []
    lost = 0
    for write in writes:
        found = trips.get(write.title, [])
        if write.outcome == "created":
            lost += write.trip_id not in found
            if found != [write.trip_id]:
                problems.append(f"{write.title}: created as {write.trip_id}, rows {found}")
            elif messages.get(write.trip_id or "", 0) != 1:
                problems.append(
                    f"{write.title}: {messages.get(write.trip_id or '', 0)} "
                    "trip.created messages (want 1)"
                )
        elif found:
            problems.append(f"{write.title}: {write.outcome} for the client, rows {found}")
    return {
        **result,
        # Acknowledged (201) to the client, absent from the database: the writes a failover
        # lost (the measured RPO in writes; 0 with synchronous replication).
        "acknowledged_lost": lost,
        "balanced": not problems,
        "failures_were_503_retry_after": result["other_failures"] == 0,
        "problems": problems[:20],
    }

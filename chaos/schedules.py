"""AI schedule generation through the front door, as a user asks for it: create a trip, request
its schedule (trip-service → outbox → queue → ai worker) and poll the ai-service until it is
done or failed. Used by the LLM and poison-message experiments as the 'normal work' that must
keep completing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from chaos.accounts import Account

POLL_S = 1.0  # polls count against the per-user limit (100/min): 60/min leaves room


@dataclass(frozen=True)
class Generation:
    schedule_id: str | None
    status: str  # done | failed | pending | running | error
    elapsed_ms: float
    narrative: str | None = None  # "llm" or "none" (planner only), from the itinerary
    days: int = 0
    error: str | None = None


def request_schedule(client: httpx.Client, user: Account, title: str) -> str:
    """Create a 2-day Seoul trip and ask for its schedule; returns the schedule id."""
    start = date.today() + timedelta(days=45)
    trip = client.post(
        "/api/trips",
        headers=user.headers,
        json={
            "title": title,
            "destination_city": "Seoul",
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=1)).isoformat(),
            "wishes": "local food markets and a quiet temple",
        },
    )
    trip.raise_for_status()
    accepted = client.post(f"/api/trips/{trip.json()['id']}/schedules", headers=user.headers)
    accepted.raise_for_status()
    return str(accepted.json()["schedule_id"])


def schedule_status(client: httpx.Client, user: Account, schedule_id: str) -> str:
    """The schedule's status now (`missing` while the ai-service has not seen it yet)."""
    response = client.get(f"/api/ai/schedules/{schedule_id}", headers=user.headers)
    return str(response.json().get("status")) if response.status_code == 200 else "missing"


def await_schedule(
    client: httpx.Client, user: Account, schedule_id: str, started: float, timeout_s: float
) -> Generation:
    """Poll the ai-service until the schedule is done or failed (or `timeout_s` passes)."""
    body: dict[str, Any] = {}
    while time.monotonic() - started < timeout_s:
        response = client.get(f"/api/ai/schedules/{schedule_id}", headers=user.headers)
        if response.status_code == 200:
            body = response.json()
            if body.get("status") in ("done", "failed"):
                break
        time.sleep(POLL_S)
    elapsed_ms = (time.monotonic() - started) * 1000
    itinerary = body.get("itinerary") or {}
    return Generation(
        schedule_id=schedule_id,
        status=str(body.get("status", "pending")),
        elapsed_ms=elapsed_ms,
        narrative=(itinerary.get("enrichment") or {}).get("narrative"),
        days=len(itinerary.get("days") or []),
        error=body.get("error"),
    )


def generate(client: httpx.Client, user: Account, title: str, timeout_s: float) -> Generation:
    """One generation end to end (request → itinerary ready), timed like the SLA's metric."""
    started = time.monotonic()
    try:
        schedule_id = request_schedule(client, user, title)
    except httpx.HTTPError as exc:
        return Generation(None, "error", (time.monotonic() - started) * 1000, error=str(exc))
    return await_schedule(client, user, schedule_id, started, timeout_s)

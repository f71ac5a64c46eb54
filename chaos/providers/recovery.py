"""Probes that wait for the steady state to come back and record when it did (`recovered_at`
of the chaos event), and the probe that reports the worst recovery of an experiment.

Every wait is bounded by `timeout_s` (the SLA's recovery target by default): a fault that does
not recover in time leaves `recovered_at` empty, which the hypothesis and the SLA judge fail.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from chaos.context import Configuration, context_from
from chaos.events import events_since, experiment_started_at, now, open_event, update_event
from chaos.providers.http import RATE_LIMITED, probe_pool
from chaos.traffic import KEY_ROUTES, request_once

POLL_S = 0.25


def wait_until(condition: Callable[[], bool], timeout_s: float) -> datetime | None:
    """Poll `condition` until it holds (→ the time it first held) or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return now()
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


def record_recovery(run_dir: Path, event: str, recovered: datetime) -> None:
    """Set `recovered_at`; also keep how long recovery took after the fault was lifted (a
    restart's recovery counts from the injection, which includes the chosen outage)."""
    opened = open_event(run_dir, event)
    details = {}
    if opened.ended_at is not None:
        details["recovery_after_lift_s"] = round((recovered - opened.ended_at).total_seconds(), 3)
    update_event(run_dir, event, recovered_at=max(recovered, opened.started_at), details=details)


def recovery_result(event: str, started: datetime, recovered: datetime | None) -> dict[str, Any]:
    return {
        "event": event,
        "recovered": recovered is not None,
        "recovery_s": (recovered - started).total_seconds() if recovered else None,
    }


def wait_replica_back(
    service: str, timeout_s: float = 300.0, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Wait until the service has as many ready replicas as before the kill and the killed one
    (same name, new process — on Kubernetes a new pod) is ready again."""
    context = context_from(configuration)
    name = f"kill-replica/{service}"
    event = open_event(context.run_dir, name)
    platform = context.open_platform()
    killed, killed_pid = event.details.get("replica"), event.details.get("pid")
    wanted = int(event.details.get("ready_before") or 1)

    def back() -> bool:
        replicas = [r for r in platform.status().replicas if r.service == service]
        same = [r for r in replicas if r.replica == killed]
        replaced = all(r.ready and r.pid != killed_pid for r in same)  # empty on Kubernetes
        return replaced and sum(r.ready for r in replicas) >= wanted

    recovered = wait_until(back, timeout_s)
    if recovered is not None:
        update_event(context.run_dir, name, recovered_at=recovered)
    return {**recovery_result(name, event.started_at, recovered), "replica": killed}


def wait_serving(
    event: str,
    timeout_s: float = 300.0,
    consecutive: int = 3,
    configuration: Configuration | None = None,
) -> dict[str, Any]:
    """Wait until `consecutive` requests in a row over the key routes succeed; the event
    recovered when the first of them was sent."""
    context = context_from(configuration)
    opened = open_event(context.run_dir, event)
    accounts = probe_pool(configuration)
    streak: list[datetime] = []
    with httpx.Client(base_url=context.base_url, timeout=5.0) as client:
        index = 0

        def serving() -> bool:
            nonlocal index
            route = KEY_ROUTES[index % len(KEY_ROUTES)]
            result = request_once(client, route, accounts.take().headers)
            index += 1
            if result.status == RATE_LIMITED:
                return False  # says nothing about the fault; the pool keeps this rare
            if result.ok:
                streak.append(result.timestamp)
            else:
                streak.clear()
            return len(streak) >= consecutive

        recovered = streak[0] if wait_until(serving, timeout_s) is not None else None
    if recovered is not None:
        record_recovery(context.run_dir, event, recovered)
    return recovery_result(event, opened.started_at, recovered)


def all_replicas_ready(
    settle_s: float = 10.0, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Every replica of the deployment ready (the steady state of the topology). A replica's
    readiness may trail its serving by a health-cache period after a dependency came back, so
    this waits up to `settle_s` and reports how long it took (`waited_s`)."""
    platform = context_from(configuration).open_platform()
    began = time.monotonic()
    last: list[str] = []

    def ready() -> bool:
        nonlocal last
        status = platform.status()
        last = [r.replica for r in status.replicas if not r.ready] if status.replicas else ["-"]
        return not last

    settled = wait_until(ready, settle_s) is not None
    return {
        "all_ready": settled,
        "waited_s": round(time.monotonic() - began, 2),
        "not_ready": last,
    }


def worst_recovery(
    events: list[str] | None = None, configuration: Configuration | None = None
) -> dict[str, Any]:
    """The longest recovery among this experiment's events matching the globs (0 s when none
    was injected yet, e.g. before the method; null when one has not recovered)."""
    context = context_from(configuration)
    patterns = events or ["*"]
    since = experiment_started_at(context.run_dir)
    matching = [
        e
        for e in events_since(context.run_dir, since)
        if any(fnmatch.fnmatchcase(e.name, p) for p in patterns)
    ]
    pending = [e.name for e in matching if e.recovery_s is None]
    recoveries = {e.name: e.recovery_s for e in matching}
    worst = max((s for s in recoveries.values() if s is not None), default=0.0)
    return {
        "recovery_s": None if pending else worst,
        "events": len(matching),
        "unrecovered": pending,
        "each_s": recoveries,
    }


def await_all_ready(timeout_s: float = 120.0, configuration: Configuration | None = None) -> bool:
    """Rollback: wait (bounded) until every replica is ready, so the next experiment starts
    from the steady state. Returns whether it got there."""
    platform = context_from(configuration).open_platform()
    ready = wait_until(lambda: all(r.ready for r in platform.status().replicas), timeout_s)
    return ready is not None


def wait_all_ready(
    event: str, timeout_s: float = 300.0, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Wait until every replica is ready again; that is when `event` recovered."""
    context = context_from(configuration)
    opened = open_event(context.run_dir, event)
    platform = context.open_platform()
    recovered = wait_until(lambda: all(r.ready for r in platform.status().replicas), timeout_s)
    if recovered is not None:
        record_recovery(context.run_dir, event, recovered)
    return recovery_result(event, opened.started_at, recovered)

"""Waiting for replicas to become ready (`/actuator/health/readiness` answers 200), with progress.

supervisord restarts a replica that exits while starting, as Kubernetes restarts a pod, so one
unlucky start is forgiven; a replica that fails `MAX_FAILED_STARTS` times (a crash loop) or that
supervisord gives up on fails the wait at once with the end of its log, instead of letting the
user sit out the whole timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulation.platforms.base import PlatformError
from simulation.platforms.local_plan import PlannedReplica
from simulation.platforms.supervisor import ProcessInfo, tail

READINESS_PATH = "/actuator/health/readiness"
_EXITED = {"EXITED", "BACKOFF"}
MAX_FAILED_STARTS = 3


def is_ready(client: httpx.Client, base_url: str) -> bool:
    try:
        return client.get(base_url + READINESS_PATH).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(
    replicas: Sequence[PlannedReplica],
    *,
    states: Callable[[], Mapping[str, ProcessInfo]],
    log_of: Callable[[str], Path],
    console: Console,
    timeout_s: float,
    poll_s: float = 0.1,
) -> float:
    """Block until every replica is ready; return the seconds it took. `states()` gives each
    replica's supervisor state; `log_of(name)` its log file for error messages."""
    started = time.monotonic()
    deadline = started + timeout_s
    pending = {r.name: r for r in replicas}
    pids: dict[str, list[int]] = {}  # every process each replica has had while we waited
    services = list(dict.fromkeys(r.service for r in replicas))
    progress = Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("ready"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with progress, httpx.Client(timeout=httpx.Timeout(1.0)) as client:
        tasks = {
            s: progress.add_task(s, total=sum(1 for r in replicas if r.service == s))
            for s in services
        }
        while pending:
            for name, replica in list(pending.items()):
                if is_ready(client, replica.url):
                    del pending[name]
                    progress.advance(tasks[replica.service])
            if not pending:
                break
            current = states()
            failed = []
            for name in pending:
                info = current.get(name)
                if info is None:
                    continue
                seen = pids.setdefault(name, [])
                if info.pid and info.pid not in seen:
                    seen.append(info.pid)
                failed_starts = max(len(seen) - 1, 0) + (info.state in _EXITED)
                if info.state == "FATAL" or failed_starts >= MAX_FAILED_STARTS:
                    failed.append(name)
            if failed:
                raise PlatformError(
                    _failure("keep exiting while starting", failed, current, log_of)
                )
            if time.monotonic() > deadline:
                raise PlatformError(
                    _failure(f"not ready after {timeout_s:.0f} s", list(pending), current, log_of)
                )
            time.sleep(poll_s)
    return time.monotonic() - started


def _failure(
    what: str,
    names: Sequence[str],
    states: Mapping[str, ProcessInfo],
    log_of: Callable[[str], Path],
) -> str:
    parts = [f"{len(names)} replica(s) {what}: {', '.join(sorted(names))}"]
    for name in sorted(names)[:3]:  # enough to see the cause; the rest is in the logs
        log = log_of(name)
        state = states[name].state if name in states else "?"
        parts.append(f"--- {name} ({state}), last lines of {log}:\n{tail(log, 15)}")
    return "\n".join(parts)

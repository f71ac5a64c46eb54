"""Waiting for replicas: one failed start is forgiven (supervisord restarts it), a crash loop or a
FATAL replica fails at once with its log, a slow one fails at the timeout."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from simulation.platforms.base import PlatformError
from simulation.platforms.local_plan import PlannedReplica, free_ports
from simulation.platforms.readiness import MAX_FAILED_STARTS, wait_ready
from simulation.platforms.supervisor import ProcessInfo


def replica(name: str = "ai-1") -> PlannedReplica:
    service, index = name.split("-")
    return PlannedReplica(service, int(index), "zone-1", free_ports(1)[0])  # nothing listens


def states_from(sequence: list[tuple[str, int | None]]) -> Iterator[dict[str, ProcessInfo]]:
    for state, pid in sequence:
        yield {"ai-1": ProcessInfo("ai-1", state, pid, "")}
    while True:  # then stay in the last state
        yield {"ai-1": ProcessInfo("ai-1", state, pid, "")}


def wait(tmp_path: Path, sequence: list[tuple[str, int | None]], timeout_s: float = 5) -> None:
    log = tmp_path / "ai-1.log"
    log.write_text("Traceback …\nSolverTimeout: no itinerary found\n")
    states = states_from(sequence)
    wait_ready(
        [replica()],
        states=lambda: next(states),
        log_of=lambda name: log,
        console=Console(file=io.StringIO()),
        timeout_s=timeout_s,
        poll_s=0.01,
    )


def test_a_crash_loop_fails_fast_with_the_log(tmp_path: Path) -> None:
    loop: list[tuple[str, int | None]] = []
    for pid in range(100, 100 + MAX_FAILED_STARTS):
        loop += [("STARTING", pid), ("RUNNING", pid), ("EXITED", pid)]
    with pytest.raises(PlatformError) as caught:
        wait(tmp_path, loop, timeout_s=30)
    message = str(caught.value)
    assert "ai-1" in message
    assert "keep exiting while starting" in message
    assert "SolverTimeout" in message  # the end of its log


def test_one_failed_start_is_forgiven_until_the_timeout(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="not ready after 1 s"):
        wait(tmp_path, [("RUNNING", 100), ("EXITED", 100), ("RUNNING", 101)], timeout_s=1)


def test_fatal_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="keep exiting"):
        wait(tmp_path, [("BACKOFF", None), ("FATAL", None)], timeout_s=30)

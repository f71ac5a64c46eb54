"""Fixtures of the scenarios tests: the tiny app served in a thread, one real headless locust
run against it (so every file the builder reads is locust's own output), and a factory of
synthetic `LoadResults` for the judge's edge cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runs.results import EndpointStats, LoadResults, Machine
from scenarios.load.probe import ProbeTarget
from scenarios.load.runner import run_load
from tests.scenarios.helpers import LOCUSTFILE, T0, MakeResults, ServerThread, endpoint, tiny_app


@pytest.fixture
def server() -> Iterator[ServerThread]:
    srv = ServerThread(tiny_app()).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def locust_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results.json of one real 5 s locust run (5 users) with the steady prober alongside."""
    srv = ServerThread(tiny_app()).start()
    try:
        return run_load(
            LOCUSTFILE,
            srv.url,
            profile="dev",
            platform="local",
            users=5,
            spawn_rate=5,
            duration_s=5,
            runs_root=tmp_path_factory.mktemp("runs"),
            replicas={"location": 1, "trip": 1, "ai": 1, "user": 1},
            probe_targets=[ProbeTarget(name="health", url=f"{srv.url}/actuator/health")],
            stop_timeout_s=2,
        )
    finally:
        srv.stop()


@pytest.fixture
def make_results() -> MakeResults:
    """Synthetic results over 60 s from T0: endpoints given, totals summed, rest as passed."""

    def make(endpoints: list[EndpointStats] | None = None, **fields: Any) -> LoadResults:
        endpoints = endpoints if endpoints is not None else [endpoint("/api/x", 600)]
        requests = sum(e.requests for e in endpoints)
        failures = sum(e.failures for e in endpoints)
        totals = fields.pop("totals", None) or endpoint(
            "Aggregated", requests, failures, method="", rps=requests / 60
        )
        values: dict[str, Any] = {
            "profile": "prod",
            "platform": "local",
            "users": 50,
            "duration_s": 60,
            "started_at": T0,
            "ended_at": T0 + timedelta(seconds=60),
            "machine": Machine(cores=2, hostname="test", system="Linux"),
            "endpoints": endpoints,
            "totals": totals,
        }
        values.update(fields)
        return LoadResults.model_validate(values)

    return make

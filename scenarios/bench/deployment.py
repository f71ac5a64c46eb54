"""The benchmark's own prod-sim: the local platform with the rate limit off, in one of two
replica modes — `prod` (the profile's 3/3/2/2 replicas, one uvicorn worker each, as the chart
ships) and `one` (one replica per service with a worker per core), which separates what a route
costs in Python from the oversubscription of ten processes on two cores. Reused when it is
already running as wanted, else deployed (and taken down afterwards unless `--keep`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from simulation.platforms.base import DeploymentStatus, Endpoints, PlatformError
from simulation.platforms.local import LocalPlatform
from simulation.profiles import SERVICES
from simulation.state import load_state

RATE_LIMIT_ENV = "TRIPGEN_RATE_LIMIT_PER_MINUTE"
WORKERS_ENV = "TRIPGEN_WORKERS"
REPLICA_MODES = ("prod", "one")

console = Console(stderr=True, soft_wrap=True)


class BenchError(RuntimeError):
    """The benchmark could not run (the message says what to do)."""


@dataclass(frozen=True)
class BenchDeployment:
    platform: LocalPlatform
    endpoints: Endpoints
    status: DeploymentStatus
    deployed_here: bool

    def replicas(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.status.replicas:
            counts[r.service] = counts.get(r.service, 0) + 1
        return counts

    def pid_of(self, service: str | None) -> int | None:
        return next((r.pid for r in self.status.replicas if r.service == service and r.pid), None)


def mode_settings(mode: str) -> tuple[dict[str, str], dict[str, int]]:
    """(extra environment, replica counts) of a replica mode; the rate limit is off in both
    (zero-wait users would otherwise hit the 100 requests/min per user)."""
    env = {RATE_LIMIT_ENV: "0"}
    if mode == "prod":
        return env, {}
    return {**env, WORKERS_ENV: str(os.cpu_count() or 1)}, {s: 1 for s in SERVICES}


def ensure_deployment(
    directory: Path, mode: str = "prod", service_env: dict[str, str] | None = None
) -> BenchDeployment:
    """The benchmark's own prod-sim in `mode` (plus `service_env` for every replica, to compare
    a setting's effect): reused when it is running as wanted, else made."""
    mode_env, counts = mode_settings(mode)
    extra_env = {**mode_env, **(service_env or {})}
    platform = LocalPlatform(directory, console=console, extra_env=extra_env, replicas=counts)
    state = load_state(platform.run_dir)
    if state is not None:
        extra = state.details.get("plan", {}).get("extra_env", {})
        if state.platform != "local" or state.profile != "prod" or extra != extra_env:
            raise BenchError(
                f"{platform.run_dir} holds a {state.platform}/{state.profile} deployment with "
                f"{extra} instead of {extra_env}; stop it (python -m simulation.cli --run-dir "
                f"{platform.run_dir} down) or pick another --run-dir"
            )
        try:
            status = platform.status()
        except PlatformError:
            status = None
        if status is not None and status.all_ready:
            found = BenchDeployment(platform, platform.endpoints(), status, deployed_here=False)
            if counts and any(found.replicas().get(s, 0) != n for s, n in counts.items()):
                raise BenchError(
                    f"{platform.run_dir} runs {found.replicas()} replicas, not {counts}; "
                    f"stop it (python -m simulation.cli --run-dir {platform.run_dir} down)"
                )
            console.print(f"reusing the benchmark deployment in {platform.run_dir}")
            return found
    console.print(f"deploying prod ({mode} replicas, {extra_env}) on local in {platform.run_dir} …")
    endpoints = platform.deploy("prod")
    return BenchDeployment(platform, endpoints, platform.status(), deployed_here=True)

"""The deployment a command measures: the one recorded in state.json, or a new one; and the
steady prober's targets through its gateway."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx

from scenarios.cli.common import HarnessError, console
from scenarios.load.probe import ProbeTarget
from simulation.platforms.base import DeploymentStatus, Endpoints, Platform
from simulation.platforms.select import choose_platform, default_runner, open_platform
from simulation.state import load_state, run_dir


@dataclass(frozen=True)
class Deployment:
    platform: Platform
    profile: str
    endpoints: Endpoints
    status: DeploymentStatus

    @property
    def replicas(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for replica in self.status.replicas:
            counts[replica.service] = counts.get(replica.service, 0) + 1
        return counts


def _check_ready(status: DeploymentStatus) -> None:
    if not status.replicas:
        raise HarnessError(f"the {status.platform} deployment has no replicas; redeploy it")
    waiting = [r.replica for r in status.replicas if not r.ready]
    if len(waiting) == len(status.replicas):
        raise HarnessError(
            f"no replica of the {status.platform} deployment is ready; see `nox -s status`"
        )
    if waiting:
        console.print(f"[yellow]warning:[/] not ready: {', '.join(waiting)} (running anyway)")


def attach(directory: Path | None, requested_platform: str, profile: str | None) -> Deployment:
    """The deployment recorded in state.json, checked against what the command asked for."""
    state = load_state(run_dir(directory))
    if state is None:
        raise HarnessError(
            "nothing is deployed; run `nox -s deploy-prod-sim` (or deploy-dev-sim) first, "
            "or `nox -s sla-check`, which deploys"
        )
    if requested_platform != "auto" and requested_platform != state.platform:
        raise HarnessError(
            f"the deployment runs on {state.platform!r}, not {requested_platform!r}; "
            f"drop --platform or stop it with `nox -s down`"
        )
    if profile is not None and profile != state.profile:
        raise HarnessError(
            f"profile {state.profile!r} is deployed, not {profile!r}; run `nox -s down` and "
            f"deploy {profile!r}, or drop --profile"
        )
    platform = open_platform(state.platform, directory=directory, console=console)
    status = platform.status()
    _check_ready(status)
    return Deployment(platform, state.profile, platform.endpoints(), status)


def attach_or_deploy(
    directory: Path | None, requested_platform: str, profile: str
) -> tuple[Deployment, bool]:
    """The running deployment of `profile`, or a new one; (deployment, deployed by us)."""
    if load_state(run_dir(directory)) is not None:
        return attach(directory, requested_platform, profile), False
    choice = choose_platform(requested_platform, default_runner())
    console.print(
        f"nothing deployed: deploying {profile} on [bold]{choice.name}[/] ({choice.reason})"
    )
    platform = open_platform(choice.name, directory=directory, console=console)
    endpoints = platform.deploy(profile)
    status = platform.status()
    _check_ready(status)
    return Deployment(platform, profile, endpoints, status), True


# One authenticated read per service, each reaching its database through the gateway: the
# probe sees what a user sees (a replica down, a database outage), not a health page. The API
# docs are off in prod, so they cannot stand in for health there.
_KEY_ROUTES: dict[str, tuple[str, str, list[int]]] = {
    "user": ("profile read (key route)", "/api/users/me", []),
    "trip": ("my trips", "/api/trips", []),
    "location": ("cities", "/api/locations/cities", []),
    "ai": ("schedule lookup", f"/api/ai/schedules/{UUID(int=0)}", [404]),
}


def probe_targets(endpoints: Endpoints) -> list[ProbeTarget]:
    """The steady prober's targets, through the gateway like a user's request.

    Per deployed service one authenticated read as a probe account (`GET /api/users/me`,
    `/api/trips`, `/api/locations/cities`, and for ai a schedule id nobody has, whose 404 still
    means a replica checked the token and read the database). The probe token lives for the
    services' access-token lifetime (15 min by default), longer than a default run. Without a
    probe account only the gateway itself can be probed, and that is said loudly.
    """
    base = endpoints.base_url.rstrip("/")
    targets = []
    for service, (name, path, ok) in _KEY_ROUTES.items():
        if service not in endpoints.services:
            continue
        # One account per target: the API's per-user limit (100 requests/min) is shared by
        # every service, and four targets probed each second as one user would exceed it.
        token = _probe_account_token(endpoints.base_url)
        if not token:
            console.print(
                "[bold red]prober: no probe account, so only the gateway's /healthz is probed; "
                "availability will not see the services[/]"
            )
            return [ProbeTarget(name="gateway", url=f"{base}/healthz")]
        targets.append(
            ProbeTarget(
                name=name,
                url=f"{endpoints.services.get(service, base).rstrip('/')}{path}",
                headers={"Authorization": f"Bearer {token}"},
                ok_statuses=ok,
            )
        )
    return targets


def _probe_account_token(base_url: str) -> str | None:
    """Register and log in a probe account; None (with a warning) when the API refuses."""
    email = f"prober-{os.getpid()}-{int(time.time())}-{os.urandom(3).hex()}@probe.tripgen.dev"
    body = {"email": email, "password": f"probe-{os.urandom(6).hex()}-7", "name": "SLA prober"}
    base = base_url.rstrip("/")
    try:
        with httpx.Client(timeout=10) as client:
            client.post(f"{base}/api/users/register", json=body).raise_for_status()
            login = client.post(
                f"{base}/api/users/login",
                json={"email": email, "password": body["password"]},
            )
            login.raise_for_status()
            return str(login.json()["access_token"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        console.print(f"[yellow]prober: no key-route target ({exc}); probing health only[/]")
        return None

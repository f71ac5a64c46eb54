"""The login-burst case: other routes at a steady pace, alone and then beside zero-wait logins.

Password hashing (argon2id at OWASP's minimum) keeps its cost; what must hold is that a burst of
logins does not take the CPU that other requests need. Both runs use the same paced users on the
same cheap routes, so each route's p95 in the burst compares with its p95 just before.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scenarios.bench.cases import (
    BURST_LOGIN_CLASS,
    BURST_MAX_P95_FACTOR,
    BURST_P95_SLACK_MS,
    BURST_PACED_CLASS,
    BURST_PACED_USERS,
    BURST_ROUTES,
    Check,
    Figures,
)
from scenarios.bench.deployment import BenchDeployment
from scenarios.bench.measure import Options, measure
from scenarios.load.locustfiles import routes

QUIET_KEY = "burst_quiet"
BURST_KEY = "login_burst"


def measure_login_burst(
    opts: Options,
    deployment: BenchDeployment,
    locustfile: Path,
    folder: Path,
    env: dict[str, str],
    idle: dict[str, float],
) -> list[Figures]:
    """The quiet run, then the burst (as many login users as paced ones)."""
    paced = replace(opts, users=BURST_PACED_USERS)
    burst = replace(opts, users=2 * BURST_PACED_USERS)
    quiet = measure(QUIET_KEY, "other routes, paced, no logins", locustfile,
                    deployment.endpoints.base_url, paced, folder, user_class=BURST_PACED_CLASS,
                    env=env, deployment=deployment, idle=idle, profile_service=None)  # fmt: skip
    during = measure(BURST_KEY, "other routes, paced, during a login burst", locustfile,
                     deployment.endpoints.base_url, burst, folder,
                     user_class=f"{BURST_PACED_CLASS} {BURST_LOGIN_CLASS}", env=env,
                     deployment=deployment, idle=idle, profile_service="user")  # fmt: skip
    return [quiet, during]


def burst_checks(quiet: Figures | None, during: Figures | None) -> list[Check]:
    """Per other route: p95 during the burst ≤ factor × quiet p95 + slack, with no errors.
    Logins shed with 503 (the replica's line is full) are shown, not judged."""
    if quiet is None or during is None:
        return []
    logins = during.per_route.get(routes.LOGIN.name, {})
    login_note = (
        f"{logins.get('rps', 0.0):,.0f} logins/s, {logins.get('failures', 0)} shed"
        if logins.get("requests")
        else "no login was made: the burst did not happen"
    )
    checks = []
    for name in BURST_ROUTES:
        before = quiet.per_route.get(name, {})
        after = during.per_route.get(name, {})
        p95_quiet, p95_burst = before.get("p95_ms"), after.get("p95_ms")
        target = f"≤ {BURST_MAX_P95_FACTOR:g} × quiet p95 + {BURST_P95_SLACK_MS:g} ms, no errors"
        if p95_quiet is None or p95_burst is None or not logins.get("requests"):
            checks.append(Check(f"{name} p95 during a login burst", target,
                                f"not measured ({login_note})", False))  # fmt: skip
            continue
        errors = before.get("failures", 0) + after.get("failures", 0)
        held = p95_burst <= BURST_MAX_P95_FACTOR * p95_quiet + BURST_P95_SLACK_MS and errors == 0
        measured = (
            f"{p95_burst:,.0f} ms vs {p95_quiet:,.0f} ms quiet, {errors} errors ({login_note})"
        )
        checks.append(Check(f"{name} p95 during a login burst", target, measured, held))
    return checks

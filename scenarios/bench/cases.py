"""The benchmark's cases and targets, and the figures one case yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scenarios.load.locustfiles import routes


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    user_class: str
    service: str | None  # whose replica py-spy samples
    min_ratio: float | None  # route throughput ≥ this × the baseline's


ROUTE_CASES: tuple[Case, ...] = (
    Case("nearby_cached", "cached place search (nearby)", "CachedNearby", "location", 0.6),
    Case("search_text", "place text search (uncached)", "PlaceSearch", "location", 0.25),
    Case("trip_create", "trip creation", "TripCreate", "trip", 0.25),
    Case("profile_read", "profile read", "ProfileRead", "user", 0.4),
    # No throughput target: argon2id at OWASP's minimum costs what it costs (shown for reference).
    Case("login", "login (argon2id)", "Login", "user", None),
)
CASE_KEYS = ("baseline", *(c.key for c in ROUTE_CASES), "login_burst", "mix", "ai")

# A login burst must leave other routes' latency alone: the same paced users on cheap routes
# (`OtherRoutesPaced`: profile read and cached nearby search), alone and then beside as many
# zero-wait users logging in; each route's p95 in the burst within factor × quiet + slack.
BURST_PACED_USERS = 10
BURST_PACED_CLASS = "OtherRoutesPaced"
BURST_LOGIN_CLASS = "Login"
BURST_ROUTES = (routes.PROFILE.name, routes.NEARBY.name)
BURST_MAX_P95_FACTOR = 1.5
BURST_P95_SLACK_MS = 10.0

# The journey mix through nginx, and AI generation end to end.
MIX_MIN_RPS = 1_000.0
MIX_MAX_P95_MS = 100.0
AI_CONCURRENCY = 10
AI_MAX_P95_MS = 1_000.0


@dataclass
class Figures:
    key: str
    title: str
    requests: int
    failures: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    users: int
    processes: int
    run_folder: str
    ratio: float | None = None
    # A case with a throughput target: the baseline's req/s in the runs just before and after it,
    # which its ratio is taken against (the machine's speed drifts within minutes).
    baseline_beside_rps: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process class
    cpu_seconds_net_of_idle: dict[str, float] = field(default_factory=dict)  # the same, less idle
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)  # net of idle, per class
    cpu_seconds_by_process: dict[str, float] = field(default_factory=dict)
    machine_cpu: dict[str, float] = field(default_factory=dict)
    per_route: dict[str, dict[str, Any]] = field(default_factory=dict)  # by locust request name
    profile: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Check:
    name: str
    target: str
    measured: str
    passed: bool | None  # None: not measured

"""The API routes the journeys call, each with the locust request name it is recorded under.

Names are `/api/<service>/…` route templates with `[id]` where the path carries an id
(`/api/trips/[id]`; locust shows the method in its own column): one stats row per route however
many trips exist, and the capacity model (`simulation.capacity`) maps every row to its service
by the `/api/<service>` prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
LONG_POLL = "long poll"
LONG_POLL_MAX_S = 8.0  # the longest `wait_s` trip-service grants a schedule's long poll


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # e.g. "/api/trips/{trip_id}"
    # Set for a request the route answers in its own way, recorded on a row of its own: the
    # long poll of a schedule waits seconds by design and must not count as API latency.
    variant: str = ""

    @property
    def name(self) -> str:
        """The locust request name: `/api/trips/[id]` (locust keeps the method beside it), then
        ` (variant)` if the route has one."""
        name = _PLACEHOLDER.sub("[id]", self.template)
        return f"{name} ({self.variant})" if self.variant else name

    def path(self, **ids: str) -> str:
        """The concrete path; every placeholder must be given (KeyError otherwise)."""
        return self.template.format(**ids)


REGISTER = Route("POST", "/api/users/register")
LOGIN = Route("POST", "/api/users/login")
REFRESH = Route("POST", "/api/users/refresh")
LOGOUT = Route("POST", "/api/users/logout")
PROFILE = Route("GET", "/api/users/me")
PROFILE_UPDATE = Route("PATCH", "/api/users/me")

NEARBY = Route("GET", "/api/locations/places/nearby")
SEARCH = Route("GET", "/api/locations/places/search")
PLACE = Route("GET", "/api/locations/places/{place_id}")
CITIES = Route("GET", "/api/locations/cities")

TRIPS = Route("GET", "/api/trips")
TRIP_CREATE = Route("POST", "/api/trips")
TRIP = Route("GET", "/api/trips/{trip_id}")
SCHEDULE_REQUEST = Route("POST", "/api/trips/{trip_id}/schedules")
SCHEDULES = Route("GET", "/api/trips/{trip_id}/schedules")
SCHEDULE = Route("GET", "/api/trips/{trip_id}/schedules/{schedule_id}")
# The same route with `wait_s`: answered when the schedule is done or failed (SLA specs exclude
# `* (long poll)` from the general API latency, as they exclude the generation itself).
SCHEDULE_WAIT = Route("GET", "/api/trips/{trip_id}/schedules/{schedule_id}", LONG_POLL)

ALL: tuple[Route, ...] = (
    REGISTER,
    LOGIN,
    REFRESH,
    LOGOUT,
    PROFILE,
    PROFILE_UPDATE,
    NEARBY,
    SEARCH,
    PLACE,
    CITIES,
    TRIPS,
    TRIP_CREATE,
    TRIP,
    SCHEDULE_REQUEST,
    SCHEDULES,
    SCHEDULE,
    SCHEDULE_WAIT,
)

# Benchmark only (`nox -s bench`): the trivial app behind nginx that every route is compared
# with. Its path sits under a service prefix so the local platform's nginx config routes it.
BASELINE_PATH = "/api/users/baseline"
BASELINE_NAME = "/baseline (trivial FastAPI)"

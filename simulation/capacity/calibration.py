"""Which service a locust request name belongs to, and the error a run that cannot calibrate
the model raises (the calibration itself: `simulation.capacity.workload`)."""

from __future__ import annotations

import re

SERVICES = ("user", "trip", "ai", "location")
_PREFIX = re.compile(r"/api/(users|trips|ai|locations)\b")
_SERVICE_OF_PREFIX = {"users": "user", "trips": "trip", "ai": "ai", "locations": "location"}


# The locust row of a request that waits on purpose (`scenarios.load.locustfiles.routes`: a
# schedule's long poll, answered when the itinerary is ready).
WAITING_SUFFIX = " (long poll)"


def modelled_service_of(endpoint_name: str) -> str | None:
    """`service_of`, but None for a long poll: its time is the wait for an itinerary, which
    the model takes from the generations (through the queue), not a route's service time; its
    CPU, two status reads, stays in the service's demand, spread over the other routes."""
    if endpoint_name.endswith(WAITING_SUFFIX):
        return None
    return service_of(endpoint_name)


def service_of(endpoint_name: str) -> str | None:
    """`GET /api/trips/[id]` → `trip`; names outside the four services → None."""
    match = _PREFIX.search(endpoint_name)
    return _SERVICE_OF_PREFIX[match.group(1)] if match else None


class CalibrationError(ValueError):
    """The run cannot calibrate the model (no API traffic, no CPU per service)."""

"""Which service a locust request name belongs to, and the error a run that cannot calibrate
the model raises (the calibration itself: `simulation.capacity.workload`)."""

from __future__ import annotations

import re

SERVICES = ("user", "trip", "ai", "location")
_PREFIX = re.compile(r"/api/(users|trips|ai|locations)\b")
_SERVICE_OF_PREFIX = {"users": "user", "trips": "trip", "ai": "ai", "locations": "location"}


def service_of(endpoint_name: str) -> str | None:
    """`GET /api/trips/[id]` → `trip`; names outside the four services → None."""
    match = _PREFIX.search(endpoint_name)
    return _SERVICE_OF_PREFIX[match.group(1)] if match else None


class CalibrationError(ValueError):
    """The run cannot calibrate the model (no API traffic, no CPU per service)."""

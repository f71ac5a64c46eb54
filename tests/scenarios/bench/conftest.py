"""trip-service running against real PostgreSQL and Redis, for the AI benchmark client's tests:
the fixtures of `tests/trip/conftest.py`, offered here too."""

from tests.trip.conftest import (  # noqa: F401 (fixtures, found by name)
    location,
    queue,
    service,
    trip_schema,
    trip_settings,
)

"""Load places (the dev data file's records) into `location_db.places`, idempotently.

Used by the dev data initialisation and by the tests. Records are validated first, so a bad
record fails the load with its position and field instead of half-loading the file.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from psycopg import AsyncConnection
from pydantic import TypeAdapter

from services.location.repository import upsert_places as _upsert
from services.location.schemas import PlaceIn

_RECORDS = TypeAdapter(list[PlaceIn])


def validate_places(places: list[dict[str, Any]]) -> list[PlaceIn]:
    """The records as `PlaceIn`; a pydantic ValidationError (a ValueError) names the bad field.

    Ids must be unique: one statement cannot upsert the same row twice.
    """
    records = _RECORDS.validate_python(places)
    repeated = sorted(pid for pid, n in Counter(r.id for r in records).items() if n > 1)
    if repeated:
        raise ValueError(f"place ids appear more than once: {', '.join(repeated)}")
    return records


async def upsert_places(conn: AsyncConnection[Any], places: list[dict[str, Any]]) -> int:
    """Insert new places and update changed ones by id; returns how many rows were written.

    Loading the same records again writes nothing and returns 0. Runs in the connection's
    transaction when one is open (the caller commits), else autocommits as one statement.
    """
    return await _upsert(conn, validate_places(places))

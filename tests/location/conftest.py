from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from services.kit.auth import Role
from services.kit.migrations import migrate
from services.location.app import create_app
from services.location.places_loader import upsert_places
from services.location.settings import LocationSettings
from tests.support import bearer, serving

DATA_FILE = Path(__file__).resolve().parents[2] / "services/datainit/data/places.json"


@dataclass(frozen=True)
class StoredPlace:
    """What the brute-force reference needs of a place, read straight from the table."""

    id: str
    category: str
    lat: float
    lng: float


@pytest.fixture(scope="session")
async def location_schema(postgres_dsn: str) -> str:
    await migrate(postgres_dsn, "location")
    return postgres_dsn


def load_sample_places() -> list[dict[str, Any]]:
    """The dev data file's places (SPEC.md › Dev data initialisation: 530 real places)."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def sample_places() -> list[dict[str, Any]]:
    return load_sample_places()


@pytest.fixture
async def stored_places(
    location_schema: str, sample_places: list[dict[str, Any]]
) -> list[StoredPlace]:
    """Every place in the table once the sample is (re)loaded: the reference for a test.

    Loading is idempotent, so this also restores whatever another test changed.
    """
    async with await psycopg.AsyncConnection.connect(location_schema, autocommit=True) as conn:
        await upsert_places(conn, sample_places)
        cur = await conn.execute(
            "SELECT id, category, ST_Y(geog::geometry), ST_X(geog::geometry)"
            " FROM location_db.places"
        )
        return [StoredPlace(*row) for row in await cur.fetchall()]


@pytest.fixture
def location_settings(location_schema: str, redis_url: str) -> Callable[..., LocationSettings]:
    def make(**overrides: Any) -> LocationSettings:
        values: dict[str, Any] = {
            "database_url": location_schema,
            "redis_url": redis_url,
            "rate_limit_per_minute": 0,
            "log_json": False,
            **overrides,
        }
        return LocationSettings(**values)

    return make


@pytest.fixture
def app(location_settings: Callable[..., LocationSettings]) -> FastAPI:
    return create_app(location_settings())


@pytest.fixture
async def client(
    app: FastAPI, clean_redis: str, stored_places: list[StoredPlace]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app over the loaded sample, an empty Redis, and a user's token."""
    async with serving(app) as c:
        c.headers.update(bearer(issue_token(app)))
        yield c


def issue_token(app: FastAPI) -> str:
    return app.state.tokens.issue(str(uuid.uuid4()), Role.USER, 0)


async def get_anonymously(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """`GET path` without the client's bearer token."""
    request = client.build_request("GET", path)
    del request.headers["Authorization"]
    return await client.send(request)

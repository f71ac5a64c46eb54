"""Fixtures of the API fuzzing: the four services running, and a user and an admin."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from services.datainit.sample import load_ai_reference
from services.kit.migrations import migrate
from services.location.places_loader import upsert_places
from tests.fuzz.stack import SERVICES, Identity, Server, make_identity, running_stack

PLACES_FILE = Path(__file__).resolve().parents[2] / "services/datainit/data/places.json"


@pytest.fixture(scope="session")
async def fuzz_database(postgres_dsn: str) -> str:
    """Every service's schema migrated; the sample places and the AI reference data loaded."""
    for service in SERVICES:
        await migrate(postgres_dsn, service)
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await upsert_places(conn, json.loads(PLACES_FILE.read_text(encoding="utf-8")))
        await load_ai_reference(conn)
    return postgres_dsn


@pytest.fixture(scope="session")
def stack(fuzz_database: str, redis_url: str) -> Iterator[dict[str, Server]]:
    with running_stack(fuzz_database, redis_url) as servers:
        yield servers


@pytest.fixture(scope="session")
def new_identity(stack: dict[str, Server], fuzz_database: str) -> Callable[[str], Identity]:
    """new_identity(role) → a fresh account of that role, logged in (the fuzzer logs out and
    deletes accounts, so no identity is shared between operations)."""
    user_url = stack["user"].base_url
    return lambda role: make_identity(user_url, fuzz_database, role)

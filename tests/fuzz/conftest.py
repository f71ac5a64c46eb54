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

FUZZ_REDIS_DB = "7"
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


@pytest.fixture(scope="package")
def stack(fuzz_database: str, redis_url: str) -> Iterator[dict[str, Server]]:
    """The four services in threads, stopped when the fuzz tests end. They use a Redis database
    of their own: their queue workers and consumer groups must not take messages that other
    tests' apps publish on the session Redis."""
    with running_stack(fuzz_database, redis_url.rsplit("/", 1)[0] + "/" + FUZZ_REDIS_DB) as servers:
        yield servers


@pytest.fixture(scope="package")
def new_identity(stack: dict[str, Server], fuzz_database: str) -> Callable[[str], Identity]:
    """new_identity(role) → a fresh account of that role, logged in (the fuzzer logs out and
    deletes accounts, so no identity is shared between operations)."""
    user_url = stack["user"].base_url
    return lambda role: make_identity(user_url, fuzz_database, role)

"""The dev data initialisation on its own database: schema → sample → validate, idempotent."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from services.datainit.__main__ import main
from services.datainit.expected import SAMPLE_USERS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def datainit_dsn(postgres_dsn: str) -> AsyncIterator[str]:
    """A database of its own, so other tests' rows do not change the counts."""
    name = f"datainit_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    dsn = postgres_dsn.rsplit("/", 1)[0] + f"/{name}"
    yield dsn
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def _counts(dsn: str) -> dict[str, int]:
    tables = [
        "user_db.users",
        "trip_db.trips",
        "location_db.places",
        "ai_db.reviews",
        "ai_db.preference_profiles",
        "ai_db.itinerary_templates",
        "ai_db.seasonal_patterns",
    ]
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        out = {}
        for table in tables:
            cur = await conn.execute(f"SELECT count(*) FROM {table}")
            out[table] = (await cur.fetchone())[0]  # type: ignore[index]
        return out


def _run(step: str, dsn: str) -> int:
    # main() runs its own event loop: keep it off the test's loop.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(main, [step, "--database-url", dsn]).result()


async def test_schema_sample_validate_and_reload(
    datainit_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("validate", datainit_dsn) == 1  # before the schema: a clear error, not a crash
    assert _run("schema", datainit_dsn) == 0
    assert _run("sample", datainit_dsn) == 0
    assert _run("validate", datainit_dsn) == 0
    first = await _counts(datainit_dsn)
    assert first["user_db.users"] == len(SAMPLE_USERS)
    assert first["trip_db.trips"] == sum(u.trips for u in SAMPLE_USERS)  # 5 + 3 + 2 + 7
    assert first["location_db.places"] == 530
    assert _run("schema", datainit_dsn) == 0
    assert _run("sample", datainit_dsn) == 0
    assert await _counts(datainit_dsn) == first  # loading twice leaves the same data
    assert "all" in capsys.readouterr().out


async def test_validation_catches_a_missing_row(
    datainit_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("schema", datainit_dsn) == 0
    assert _run("sample", datainit_dsn) == 0
    async with await psycopg.AsyncConnection.connect(datainit_dsn, autocommit=True) as conn:
        await conn.execute("DELETE FROM ai_db.seasonal_patterns WHERE month = 7")
        await conn.execute(
            "DELETE FROM trip_db.trips WHERE id = (SELECT t.id FROM trip_db.trips t"
            " JOIN user_db.users u ON u.id = t.owner_id WHERE u.name = 'poweruser' LIMIT 1)"
        )
    capsys.readouterr()
    assert _run("validate", datainit_dsn) == 1
    out = capsys.readouterr().out
    assert "ai seasonal_patterns" in out and "poweruser sample trips" in out
    assert "MISMATCH" in out
    assert _run("sample", datainit_dsn) == 0  # the reload repairs what was deleted
    assert _run("validate", datainit_dsn) == 0


def test_sample_refuses_prod(monkeypatch: pytest.MonkeyPatch, datainit_dsn: str) -> None:
    monkeypatch.setenv("TRIPGEN_PROFILE", "prod")
    monkeypatch.setenv("TRIPGEN_JWT_SECRET", secrets.token_urlsafe(48))  # prod refuses literals
    assert _run("sample", datainit_dsn) == 2


def test_unreachable_database_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("validate", "postgresql://nobody:x@127.0.0.1:1/none") == 2
    assert "cannot reach PostgreSQL" in capsys.readouterr().out

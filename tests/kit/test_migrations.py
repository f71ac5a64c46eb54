from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from services.kit.migrations import MigrationError, discover, main, migrate


def _service(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "demo" / "migrations"
    folder.mkdir(parents=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return tmp_path


def test_discover_orders_and_rejects_bad_names(tmp_path: Path) -> None:
    root = _service(tmp_path, {"002_b.sql": "SELECT 2", "001_a.sql": "SELECT 1"})
    assert [m.version for m in discover("demo", root)] == [1, 2]
    (root / "demo" / "migrations" / "add_thing.sql").write_text("")
    with pytest.raises(MigrationError, match="NNN_description"):
        discover("demo", root)


def test_discover_unknown_service(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="no migrations folder"):
        discover("nope", tmp_path)


@pytest.mark.integration
async def test_migrate_is_idempotent_and_detects_edits(tmp_path: Path, postgres_dsn: str) -> None:
    root = _service(tmp_path, {"001_t.sql": "CREATE TABLE t (id int)"})
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS demo_db CASCADE")
    assert await migrate(postgres_dsn, "demo", root=root) == ["001_t"]
    assert await migrate(postgres_dsn, "demo", root=root) == []
    (root / "demo" / "migrations" / "001_t.sql").write_text("CREATE TABLE t (id bigint)")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(postgres_dsn, "demo", root=root)


@pytest.mark.integration
async def test_failed_migration_rolls_back(tmp_path: Path, postgres_dsn: str) -> None:
    root = _service(
        tmp_path,
        {
            "001_ok.sql": "CREATE TABLE ok (id int)",
            "002_bad.sql": "CREATE TABLE half (id int); SELECT nope",
        },
    )
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS demo_db CASCADE")
    with pytest.raises(MigrationError, match="002_bad failed"):
        await migrate(postgres_dsn, "demo", root=root)
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT to_regclass('demo_db.half') IS NULL")
        assert (await cur.fetchone()) == (True,)  # nothing half-written


def test_cli_rejects_unknown_service(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["payments"])
    assert "unknown service" in capsys.readouterr().err

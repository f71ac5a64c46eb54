"""Ordered, idempotent SQL migrations per service schema; `python -m services.kit.migrations`.

Each service keeps `services/<name>/migrations/NNN_description.sql`. A migration runs once, in
its own transaction, and its version is recorded in `<schema>.schema_migrations`; a changed file
after it was applied is reported, not silently re-run. An advisory lock per schema lets several
replicas (or the chart's init Job and a replica) start at once.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

SERVICES = ("user", "trip", "ai", "location")
SERVICES_DIR = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration could not be applied or the recorded history does not match the files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(service: str, root: Path = SERVICES_DIR) -> list[Migration]:
    """The service's migrations in version order; misnamed or duplicate versions are errors."""
    folder = root / service / "migrations"
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder for service {service!r}: {folder}")
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice in {folder}")
        found[version] = Migration(version, path.stem, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def migrate(dsn: str, service: str, *, root: Path = SERVICES_DIR) -> list[str]:
    """Apply the service's pending migrations; returns the names applied now."""
    schema = f"{service}_db"
    migrations = discover(service, root)
    applied_now: list[str] = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (zlib.crc32(schema.encode()),))
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute(
                f'SELECT version, name, checksum FROM "{schema}".schema_migrations'
            )
            recorded = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
            for m in migrations:
                if m.version in recorded:
                    if recorded[m.version][1] != m.checksum:
                        raise MigrationError(
                            f"{service}: migration {m.name} changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                    try:
                        await conn.execute(m.sql)
                    except psycopg.Error as exc:
                        raise MigrationError(f"{service}: {m.name} failed: {exc}") from exc
                    await conn.execute(
                        f'INSERT INTO "{schema}".schema_migrations (version, name, checksum)'
                        " VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                applied_now.append(m.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (zlib.crc32(schema.encode()),))
    return applied_now


async def migrate_all(dsn: str, services: tuple[str, ...] = SERVICES) -> dict[str, list[str]]:
    """Migrate several services in order (location first would not matter: schemas are separate)."""
    return {service: await migrate(dsn, service) for service in services}


def main(argv: list[str] | None = None) -> int:
    from services.kit.settings import ServiceSettings

    parser = argparse.ArgumentParser(
        prog="python -m services.kit.migrations",
        description="Apply pending SQL migrations for the given services (default: all four).",
    )
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=" | ".join(SERVICES))
    parser.add_argument("--database-url", help="default: TRIPGEN_DATABASE_URL")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    dsn = args.database_url or ServiceSettings().database_url
    try:
        result = asyncio.run(migrate_all(dsn, tuple(args.services) or SERVICES))
    except (MigrationError, psycopg.OperationalError) as exc:
        print(f"migrations failed: {exc}", file=sys.stderr)
        return 1
    for service, names in result.items():
        print(f"{service}: {', '.join(names) if names else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

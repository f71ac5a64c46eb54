"""`python -m services.datainit schema|sample|validate`: the dev data initialisation Jobs.

The chart runs them as ordered hooks (schema → sample data → validation, backoffLimit 3) and the
local platform runs them after starting PostgreSQL. `sample` refuses the prod profile.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import psycopg
from rich.console import Console
from rich.table import Table

from services.datainit.caches import drop_stale_caches
from services.datainit.sample import load_sample_data
from services.datainit.settings import DataInitSettings
from services.datainit.validate import run_checks
from services.kit.migrations import SERVICES, MigrationError, migrate_all

console = Console(stderr=False)


async def _schema(settings: DataInitSettings) -> int:
    result = await migrate_all(settings.database_url, SERVICES)
    for service, names in result.items():
        console.print(f"{service}: {', '.join(names) if names else 'up to date'}")
    return 0


async def _sample(settings: DataInitSettings) -> int:
    if settings.profile == "prod":
        console.print("[red]refusing to load sample data with profile prod[/red]")
        return 2
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        written = await load_sample_data(conn, settings.sample_password.get_secret_value())
    dropped = await drop_stale_caches(settings.redis_url)
    summary = ", ".join(f"{k} {v}" for k, v in written.items())
    console.print(f"sample data loaded in {time.perf_counter() - started:.1f}s: {summary}")
    if dropped is None:
        console.print(
            "[yellow]Redis not reachable: cached places may be stale for up to 4 h[/yellow]"
        )
    else:
        console.print(f"dropped {dropped} cached place/city entries from Redis")
    return 0


async def _validate(settings: DataInitSettings) -> int:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        checks = await run_checks(conn)
    table = Table(title="dev data validation (SPEC.md › Dev data initialisation)")
    for column in ("check", "expected", "found", "verdict"):
        table.add_column(column)
    for check in checks:
        verdict = "[green]ok[/green]" if check.ok else "[red]MISMATCH[/red]"
        table.add_row(check.name, check.expected, check.found, verdict)
    console.print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        console.print(f"[red]{len(failed)} of {len(checks)} checks failed[/red]")
        return 1
    console.print(f"all {len(checks)} checks passed")
    return 0


STEPS = {"schema": _schema, "sample": _sample, "validate": _validate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.datainit",
        description="Dev data initialisation: schema (all migrations), sample (users, trips, "
        "places, AI reference data), validate (counts against SPEC.md).",
    )
    parser.add_argument("step", choices=list(STEPS), help="which step to run")
    parser.add_argument("--database-url", help="default: TRIPGEN_DATABASE_URL")
    args = parser.parse_args(argv)
    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = DataInitSettings(**overrides)
    try:
        return asyncio.run(STEPS[args.step](settings))
    except (MigrationError, FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{args.step} failed:[/red] {exc}")
        return 1
    except psycopg.OperationalError as exc:
        console.print(f"[red]cannot reach PostgreSQL:[/red] {exc}")
        return 2
    except psycopg.errors.UndefinedTable as exc:
        console.print(
            f"[red]{args.step} failed: a table is missing; run the schema step first[/red] ({exc})"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

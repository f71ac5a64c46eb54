"""`nox -s dr-drill` (`python -m simulation.backing.dr_drill`): restore from backup after the data
is gone, measured against SPEC.md's RTO / RPO (30 min / 15 min, `disaster_recovery:` in
runs/specs/prod.yaml).

    write numbered rows (every acknowledgement timed) → full backup → keep writing (WAL archived
    by pgBackRest as segments fill or `archive_timeout` passes) → at a recorded time the server
    is killed and its data directory deleted → restore the latest backup + archived WAL → first
    write accepted: RTO = deletion → that write; RPO = last acknowledged row → last restored row
    (the acknowledged rows lost, and the time they span) → restore again to an explicit earlier
    time: every row committed before it is there, none after.

The server is a standalone PostgreSQL 15 with prod-sim's pgBackRest settings (the same
`BackupRepository`); losing one node of prod-sim's pair is a failover (`nox -s chaos`), this drill
is losing them all. Writes a report (`dr-drill.md`, `.html`, `.json`) like sla-check's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from markdown_it import MarkdownIt

from runs.folders import new_run_dir
from runs.spec import load_spec
from simulation.backing.binaries import ensure_binaries, ensure_tools
from simulation.backing.errors import BackingServiceError
from simulation.backing.pgbackrest import (
    ARCHIVE_TIMEOUT_S,
    BackupRepository,
    PgHost,
    wait_writable,
)
from simulation.backing.postgres import PostgresServer
from simulation.backing.processes import crash, fixed_ports, process_tree, scratch_root
from simulation.state import run_dir

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


class Rows:
    """Inserts numbered rows every `interval_s` on a thread; keeps each acknowledgement's time."""

    def __init__(self, dsn: str, interval_s: float = 0.05) -> None:
        self.dsn = dsn
        self.interval_s = interval_s
        self.acked: list[tuple[int, datetime]] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dr-rows", daemon=True)

    def _run(self) -> None:
        number = 0
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while not self._stop.is_set():
            number += 1
            try:
                if conn is None:
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
                conn.execute("INSERT INTO drill (n, at) VALUES (%s, clock_timestamp())", (number,))
                self.acked.append((number, datetime.now(UTC)))
            except psycopg.Error:
                self.failures += 1
                conn = None
            time.sleep(self.interval_s)
        if conn is not None:
            conn.close()

    def start(self) -> Rows:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def last_before(self, moment: datetime) -> int:
        return max((n for n, at in self.acked if at <= moment), default=0)


@dataclass
class DrillResult:
    rto_s: float
    rpo_s: float
    rows_acknowledged: int
    rows_restored: int
    acknowledged_lost: int
    backup_s: float
    restore_s: float
    archive_timeout_s: int
    destroyed_at: str
    pitr_target: str
    pitr_expected_last_row: int
    pitr_restored_last_row: int
    pitr_rows_after_target: int
    pitr_exact: bool
    targets: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @property
    def passed(self) -> bool:
        return (
            self.rto_s < self.targets["rto_s"]
            and self.rpo_s < self.targets["rpo_s"]
            and self.pitr_exact
        )


def _numbers(dsn: str, sql: str, params: tuple[object, ...] = ()) -> tuple[int, ...]:
    """The integers of the one row `sql` returns."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row: Any = conn.execute(sql, params).fetchone()
    return tuple(int(value) for value in row)


def _execute(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _destroy(server: PostgresServer) -> datetime:
    """Kill the server's every process and delete its data directory: the disaster."""
    pid = server.pid
    destroyed = datetime.now(UTC)
    if pid is not None:
        crash(process_tree(pid))
    server._process = None  # it is gone; nothing to stop
    shutil.rmtree(server.data_dir)
    return destroyed


def _first_write(dsn: str, timeout_s: float = 600.0) -> datetime:
    wait_writable(dsn, timeout_s)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO drill (n, at) VALUES (-1, clock_timestamp())")
    return datetime.now(UTC)


def drill(
    workdir: Path, *, before_backup_s: float, after_backup_s: float, archive_timeout_s: int
) -> DrillResult:
    """Run the drill in `workdir` (kept small: seconds of rows) and return what it measured."""
    spec = load_spec("prod")
    if spec.disaster_recovery is None:
        raise BackingServiceError("runs/specs/prod.yaml has no disaster_recovery targets")
    (port,) = fixed_ports(1)
    server = PostgresServer(workdir / "pg", port=port, settings=DURABLE)
    host = PgHost(server.data_dir, server.port, server.workdir)
    repository = BackupRepository(workdir / "backup", [host])
    repository.prepare()
    server._settings.update(repository.archive_settings(archive_timeout_s))
    try:
        server.start()
        repository.create_stanza()
        _execute(server.dsn, "CREATE TABLE drill (n bigint PRIMARY KEY, at timestamptz)")
        rows = Rows(server.dsn).start()
        time.sleep(before_backup_s)
        began = time.monotonic()
        repository.backup("full")
        backup_s = time.monotonic() - began
        time.sleep(after_backup_s / 2)
        pitr_target = datetime.now(UTC)
        time.sleep(after_backup_s / 2)
        destroyed = _destroy(server)
        time.sleep(0.5)
        rows.stop()
        acknowledged = [(n, at) for n, at in rows.acked if at <= destroyed]
        began = time.monotonic()
        repository.restore(server.data_dir)
        server.start()
        first_write = _first_write(server.dsn)
        restore_s = time.monotonic() - began
        (restored,) = _numbers(server.dsn, "SELECT coalesce(max(n), 0) FROM drill")
        last_n, last_at = acknowledged[-1] if acknowledged else (0, destroyed)
        lost = [(n, at) for n, at in acknowledged if n > restored]
        kept_at = next((at for n, at in acknowledged if n == restored), destroyed)
        rpo_s = (last_at - kept_at).total_seconds() if lost else 0.0
        pitr = _pitr(server, repository, pitr_target)
    finally:
        server.stop()
    return DrillResult(
        rto_s=(first_write - destroyed).total_seconds(),
        rpo_s=rpo_s,
        rows_acknowledged=last_n,
        rows_restored=restored,
        acknowledged_lost=len(lost),
        backup_s=backup_s,
        restore_s=restore_s,
        archive_timeout_s=archive_timeout_s,
        destroyed_at=destroyed.isoformat(),
        pitr_target=pitr_target.isoformat(),
        pitr_expected_last_row=rows.last_before(pitr_target),
        pitr_restored_last_row=pitr[0],
        pitr_rows_after_target=pitr[1],
        pitr_exact=pitr[0] >= rows.last_before(pitr_target) and pitr[1] == 0,
        targets={"rto_s": spec.disaster_recovery.rto_s, "rpo_s": spec.disaster_recovery.rpo_s},
        source=spec.disaster_recovery.source,
    )


def _pitr(
    server: PostgresServer, repository: BackupRepository, target: datetime
) -> tuple[int, int]:
    """Restore to `target`: the last row there, and how many rows written after it are."""
    server.stop()
    shutil.rmtree(server.data_dir)
    repository.restore(server.data_dir, target_time=target)
    server.start()
    wait_writable(server.dsn)
    last, after = _numbers(
        server.dsn,
        "SELECT coalesce(max(n), 0), count(*) FILTER (WHERE at > %s) FROM drill",
        (target,),
    )
    return last, after


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def render_markdown(result: DrillResult) -> str:
    """The drill's report: verdicts against SPEC.md, then what happened."""
    rto, rpo = result.targets["rto_s"], result.targets["rpo_s"]
    return "\n".join(
        [
            "# TripGen disaster-recovery drill — PostgreSQL restore from pgBackRest",
            "",
            f"Targets: {result.source} (`runs/specs/prod.yaml` › disaster_recovery).",
            "",
            "| objective | target | measured | verdict |",
            "|---|---|---|---|",
            f"| RTO: data directory deleted → first write accepted | < {rto / 60:g} min | "
            f"{result.rto_s:.1f} s | {_verdict(result.rto_s < rto)} |",
            f"| RPO: last acknowledged row → last restored row | < {rpo / 60:g} min | "
            f"{result.rpo_s:.1f} s ({result.acknowledged_lost} acknowledged row(s) lost) | "
            f"{_verdict(result.rpo_s < rpo)} |",
            f"| restore to an explicit earlier time (PITR) | every row before it, none after | "
            f"last row {result.pitr_restored_last_row} (expected ≥ "
            f"{result.pitr_expected_last_row}), {result.pitr_rows_after_target} row(s) after "
            f"the target | {_verdict(result.pitr_exact)} |",
            "",
            "## What happened",
            "",
            f"- Rows acknowledged before the disaster: {result.rows_acknowledged}; restored: "
            f"{result.rows_restored}.",
            f"- Full backup: {result.backup_s:.1f} s. Restore + replay + first write: "
            f"{result.restore_s:.1f} s.",
            f"- Server killed and data directory deleted at {result.destroyed_at}; PITR target "
            f"{result.pitr_target}.",
            f"- WAL is archived when a segment fills or `archive_timeout` = "
            f"{result.archive_timeout_s} s passes, so a crash loses at most about that much: "
            "the RPO measured here is that bound in practice, far inside SPEC.md's 15 min.",
            "- The drill ran on a standalone PostgreSQL 15 with prod-sim's pgBackRest settings on "
            "this machine's disk or tmpfs; a production restore of 512 GB from geo-redundant "
            "storage takes longer — the RTO here is the mechanism's, not production's.",
            "",
        ]
    )


def write_report(result: DrillResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(result)
    (folder / "dr-drill.md").write_text(markdown, "utf-8")
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    (folder / "dr-drill.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>TripGen DR drill</title></head><body>{body}</body></html>\n",
        "utf-8",
    )
    (folder / "dr-drill.json").write_text(
        json.dumps({**asdict(result), "passed": result.passed}, indent=2), "utf-8"
    )
    return folder / "dr-drill.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.backing.dr_drill", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="default: $TRIPGEN_RUN_DIR or .tripgen"
    )
    parser.add_argument("--before-backup", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument(
        "--after-backup",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="rows written after the backup, before the disaster (default 60)",
    )
    parser.add_argument(
        "--archive-timeout",
        type=int,
        default=ARCHIVE_TIMEOUT_S,
        metavar="SECONDS",
        help=f"PostgreSQL's archive_timeout (prod-sim: {ARCHIVE_TIMEOUT_S})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.after_backup <= 0 or args.before_backup < 0 or args.archive_timeout < 1:
        parser.error("--after-backup must be > 0, --before-backup ≥ 0, --archive-timeout ≥ 1")
    try:
        ensure_binaries()
        ensure_tools(["pgbackrest"], why="the disaster-recovery drill")
        workdir = Path(tempfile.mkdtemp(prefix="tripgen-dr-drill-", dir=scratch_root()))
        workdir.chmod(0o711)
        print(
            f"DR drill: rows for {args.before_backup:g} s, a full backup, "
            f"{args.after_backup:g} s more, then the data directory goes …",
            flush=True,
        )
        try:
            result = drill(
                workdir,
                before_backup_s=args.before_backup,
                after_backup_s=args.after_backup,
                archive_timeout_s=args.archive_timeout,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    except BackingServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = write_report(result, new_run_dir("dr-drill", run_dir(args.run_dir) / "runs"))
    print(render_markdown(result))
    print(f"report: {report}")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())

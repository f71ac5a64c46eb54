"""pgBackRest (Debian `pgbackrest`, 2.45): continuous WAL archiving, full backups and restores,
the prod simulation's stand-in for Azure's 35-day backups with point-in-time restore.

A `BackupRepository` is a config file, a repository directory and a stanza, for one or more data
nodes on this host (pgBackRest backs up from whichever is the primary). PostgreSQL archives each
finished WAL segment with `archive_command` (`archive_settings`); `archive_timeout` bounds how old
the newest archived segment can be, hence the recovery point after losing the data directory.

Measured on this machine type (DESIGN.md): stanza + first full backup of 74 MB 3.8–5.5 s; restore
from a deleted data directory to accepting writes 1.9–2.7 s; `--type=time` restores exactly.
Pitfalls handled here: `archive_command` passes `--config` (no /etc file is used), `log-path`,
`lock-path` and `spool-path` point into the repository's directory, and every restore rewrites
`postgresql.auto.conf` (its recovery settings), so nothing else should live there on a restore
target.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from simulation.backing.binaries import tool
from simulation.backing.errors import BackingServiceError
from simulation.backing.processes import ServiceAccount, prepare_dir, service_account

STANZA = "tripgen"
# SPEC.md › Data: PostgreSQL prod backups 35 days.
RETENTION_DAYS = 35
# The newest archived WAL is at most this old: the recovery point after a lost data directory.
ARCHIVE_TIMEOUT_S = 30


@dataclass(frozen=True)
class PgHost:
    """A data node on this host as pgBackRest reaches it (unix socket, superuser)."""

    data_dir: Path
    port: int
    socket_dir: Path
    user: str = "tripgen"


class BackupRepository:
    """pgBackRest's config and repository under `directory`, for `hosts`."""

    def __init__(self, directory: Path, hosts: Sequence[PgHost], *, stanza: str = STANZA) -> None:
        self.directory = directory
        self.hosts = list(hosts)
        self.stanza = stanza
        self._account: ServiceAccount | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "pgbackrest.conf"

    @property
    def repo_path(self) -> Path:
        return self.directory / "repo"

    @property
    def log_path(self) -> Path:
        return self.directory / "log"

    def config(self) -> str:
        lines = [
            "# Written by simulation/backing/pgbackrest.py",
            "[global]",
            f"repo1-path={self.repo_path}",
            "repo1-retention-full-type=time",
            f"repo1-retention-full={RETENTION_DAYS}",
            f"log-path={self.log_path}",
            f"lock-path={self.directory / 'lock'}",
            f"spool-path={self.directory / 'spool'}",
            "log-level-console=warn",
            "log-level-file=info",
            "compress-type=lz4",
            # A backup starts with an immediate checkpoint instead of waiting for the next one.
            "start-fast=y",
            "",
            f"[{self.stanza}]",
        ]
        for index, host in enumerate(self.hosts, start=1):
            lines += [
                f"pg{index}-path={host.data_dir}",
                f"pg{index}-port={host.port}",
                f"pg{index}-socket-path={host.socket_dir}",
                f"pg{index}-user={host.user}",
            ]
        return "\n".join(lines) + "\n"

    def prepare(self) -> None:
        """The directory and the config file (idempotent)."""
        self._account = service_account()
        prepare_dir(self.directory, self._account)
        for sub in ("repo", "log", "lock", "spool"):
            prepare_dir(self.directory / sub, self._account)
        self.config_path.write_text(self.config())

    def archive_settings(self, archive_timeout_s: int = ARCHIVE_TIMEOUT_S) -> dict[str, str]:
        """PostgreSQL settings that archive every WAL segment into this repository."""
        return {
            "archive_mode": "on",
            "archive_command": (
                f"{tool('pgbackrest')} --config={self.config_path} --stanza={self.stanza} "
                "archive-push %p"
            ),
            "archive_timeout": f"{archive_timeout_s}s",
        }

    def run(self, *args: str, timeout_s: float = 300.0) -> str:
        """`pgbackrest --config=… --stanza=… ARGS` as the service account; its output."""
        if self._account is None:
            self._account = service_account()
        account = self._account
        command = [
            str(tool("pgbackrest")),
            f"--config={self.config_path}",
            f"--stanza={self.stanza}",
            *args,
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            user=account.uid if account else None,
            group=account.gid if account else None,
            extra_groups=[] if account else None,
            cwd=self.directory,
        )
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0:
            raise BackingServiceError(
                f"pgbackrest {' '.join(args)} failed (exit {result.returncode}):\n{output}\n"
                f"(logs in {self.log_path})"
            )
        return output

    def create_stanza(self) -> None:
        self.run("stanza-create")

    def backup(self, kind: str = "full") -> None:
        self.run("backup", f"--type={kind}")

    def info(self) -> dict[str, Any]:
        """`pgbackrest info` of the stanza (backups, archive range)."""
        raw = json.loads(self.run("info", "--output=json"))
        return dict(raw[0]) if raw else {}

    def backups(self) -> list[dict[str, Any]]:
        return list(self.info().get("backup", []))

    def restore(
        self,
        data_dir: Path,
        *,
        target_time: datetime | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """Restore the latest backup into the empty `data_dir`, replaying archived WAL to the end
        (or to `target_time`, then promote). `settings` become recovery options."""
        prepare_dir(data_dir, self._account or service_account())
        args = ["restore", f"--pg1-path={data_dir}"]
        if target_time is not None:
            stamp = target_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            args += ["--type=time", f"--target={stamp}", "--target-action=promote"]
        for key, value in (settings or {}).items():
            args.append(f"--recovery-option={key}={value}")
        self.run(*args)


def wait_writable(dsn: str, timeout_s: float = 120.0) -> float:
    """Wait until a restored server has finished recovery and takes writes (it accepts
    connections, read-only, while it replays WAL); returns the seconds waited."""
    began = time.monotonic()
    while True:
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn,
        ):
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and row[0] is False:
                return time.monotonic() - began
        if time.monotonic() - began > timeout_s:
            raise BackingServiceError(f"restored server not writable after {timeout_s:.0f} s")
        time.sleep(0.05)

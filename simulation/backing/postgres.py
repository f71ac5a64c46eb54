"""PostgreSQL 15 with PostGIS and pg_trgm as a backing server (see `server.ServerProcess`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from simulation.backing.binaries import Binaries
from simulation.backing.errors import BackingServiceError
from simulation.backing.processes import (
    POLL_S,
    ServiceAccount,
    child_pids,
    prepare_dir,
    service_account,
    spawn,
    tail,
    terminate,
)
from simulation.backing.server import ServerProcess

# Tuned for throw-away test data: durability off, enough connections for several service pools.
TEST_POSTGRES_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "timezone": "UTC",
    "log_timezone": "UTC",
}


def initdb_command(binaries: Binaries, data_dir: Path, user: str, password_file: Path) -> list[str]:
    """initdb for a TripGen cluster: superuser `user` with the password in `password_file`,
    trust on the unix socket only, SCRAM over TCP, UTF-8."""
    return [
        str(binaries.initdb),
        f"--pgdata={data_dir}",
        f"--username={user}",
        f"--pwfile={password_file}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        # C.UTF-8 rather than C: pg_trgm classifies letters by the locale, and C would make
        # every Korean place name invisible to trigram search.
        "--locale=C.UTF-8",
        "--no-sync",
        "--no-instructions",
    ]


class PostgresServer(ServerProcess):
    """PostgreSQL 15 with PostGIS and pg_trgm, data in `workdir`, listening on `host:port` only.

    Password (SCRAM) authentication over TCP, so the DSN is a realistic one; trust only on the
    unix socket inside `workdir`. The database `database` is created with the extensions installed
    (as the superuser `user`), so service migrations can rely on them. `stop()` keeps the data and
    the port: `start()` afterwards brings the same server back at the same address.
    """

    name = "PostgreSQL"

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        user: str = "tripgen",
        password: str = "tripgen",
        database: str = "tripgen",
        extensions: Sequence[str] = ("postgis", "pg_trgm"),
        settings: Mapping[str, str] | None = None,
        ready_timeout_s: float = 30.0,
        binaries: Binaries | None = None,
    ) -> None:
        super().__init__(
            workdir,
            port=port,
            host=host,
            log_name="postgresql.log",
            ready_timeout_s=ready_timeout_s,
            binaries=binaries,
        )
        self.user = user
        self.password = password
        self.database = database
        self.extensions = tuple(extensions)
        self.data_dir = workdir / "data"
        self.socket_dir = workdir
        self._settings = {**TEST_POSTGRES_SETTINGS, **(settings or {})}
        self._account: ServiceAccount | None = None
        self._initdb: subprocess.Popen[bytes] | None = None
        self._bootstrapped = False

    @property
    def dsn(self) -> str:
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(self.database)}"

    def begin_start(self) -> None:
        """Launch without waiting (initdb on first start), so another server can start meanwhile."""
        if self.is_running() or self._initdb is not None:
            return
        self._arm_deadline()
        self._account = service_account()
        prepare_dir(self.workdir, self._account)
        if (self.data_dir / "PG_VERSION").exists():
            self._launch_postmaster()
        else:
            self._launch_initdb()

    def finish_start(self) -> None:
        """Wait for what `begin_start()` launched, then create the database and extensions once."""
        if self._initdb is not None:
            self._await_initdb()
            self._launch_postmaster()
        if self._process is None:
            raise BackingServiceError("PostgresServer.finish_start() called before begin_start()")
        self._await_ready()
        if not self._bootstrapped:
            self._bootstrap()
            self._bootstrapped = True

    def stop(self) -> None:
        """Fast shutdown (disconnects clients); escalates to immediate shutdown, then SIGKILL."""
        if self._initdb is not None:
            terminate(self._initdb, [(signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)])
            self._initdb = None
        process, self._process = self._process, None
        if process is None:
            return
        backends = child_pids(process.pid)
        terminate(process, [(signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)])
        if process.returncode == -signal.SIGKILL:
            # A killed postmaster cannot reap its backends; do it for it.
            for pid in backends:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _launch_initdb(self) -> None:
        password_file = self.workdir / "initdb.pw"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if self._account is not None:
            os.chown(password_file, self._account.uid, self._account.gid)
        argv = initdb_command(self._binaries, self.data_dir, self.user, password_file)
        self._initdb = spawn(
            argv,
            log=self.log_path,
            cwd=self.workdir,
            account=self._account,
            death_signal=signal.SIGKILL,
        )

    def _await_initdb(self) -> None:
        assert self._initdb is not None
        try:
            code = self._initdb.wait(timeout=self._remaining_s())
        except subprocess.TimeoutExpired:
            self.stop()
            raise BackingServiceError(
                f"initdb did not finish within {self.ready_timeout_s:.0f} s; "
                f"log {self.log_path}:\n{tail(self.log_path)}"
            ) from None
        finally:
            (self.workdir / "initdb.pw").unlink(missing_ok=True)
        self._initdb = None
        if code != 0:
            raise BackingServiceError(
                f"initdb failed with exit code {code}; log {self.log_path}:\n{tail(self.log_path)}"
            )

    def _launch_postmaster(self) -> None:
        settings = {
            **self._settings,
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
        }
        argv = [str(self._binaries.postgres), "-D", str(self.data_dir)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        # SIGINT is PostgreSQL's fast shutdown: if we die, it still shuts down cleanly.
        self._process = spawn(
            argv,
            log=self.log_path,
            cwd=self.workdir,
            account=self._account,
            death_signal=signal.SIGINT,
        )

    def _postmaster_ready(self, pid: int) -> bool:
        # postmaster.pid line 1 is the pid, line 8 the status ("ready" once it accepts connections).
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"

    def _await_ready(self) -> None:
        assert self._process is not None
        while not self._postmaster_ready(self._process.pid):
            self._check_alive()
            self._check_time()
            time.sleep(POLL_S)

    def _connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        # Over TCP with the password on purpose: proves the DSN handed to services works.
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            connect_timeout=10,
            autocommit=True,
        )

    def _bootstrap(self) -> None:
        try:
            with self._connect("postgres") as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                ).fetchone()
                if exists is None:
                    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                    conn.execute(create)
            with self._connect(self.database) as conn:
                for extension in self.extensions:
                    conn.execute(
                        sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                            sql.Identifier(extension)
                        )
                    )
        except psycopg.Error as exc:
            raise BackingServiceError(
                f"PostgreSQL started but setting up database {self.database!r} with "
                f"{', '.join(self.extensions)} failed: {exc}"
            ) from exc

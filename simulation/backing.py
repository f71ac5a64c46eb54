"""Real PostgreSQL 15 (+ PostGIS, pg_trgm) and Redis 7 for the tests and the local platform.

Each server is a child process on a free loopback port inside one temporary directory, polled until
it accepts connections and stopped in order by `stop()`. Three layers make sure no server outlives
its owner: `stop()`, an `atexit` hook, and the Linux parent-death signal (`PR_SET_PDEATHSIG`), which
also covers an owner killed with SIGKILL. The kernel sends that signal when the *thread* that
started the child ends, so start servers from a long-lived thread (normally the main thread).

PostgreSQL refuses to run as root; when we are root both servers run as the unprivileged system
account `tripgen` (created on first use; override with `TRIPGEN_SERVICE_USER`).

    python -m simulation.backing ensure   # find (or, as root in CI, install) the server binaries
    python -m simulation.backing run      # start both, print their URLs, stop on Ctrl-C
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import psycopg
import redis
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

PG_MAJOR = 15
DEBIAN_PACKAGES = (f"postgresql-{PG_MAJOR}", f"postgresql-{PG_MAJOR}-postgis-3", "redis-server")

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

_TRUTHY = frozenset({"1", "true", "yes", "on"})
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_POLL_S = 0.01
_SHM_MIN_FREE = 1 << 30  # leave tmpfs alone when it is small (Docker's default is 64 MB)


class BackingServiceError(RuntimeError):
    """A backing server could not be started or stopped; the message says which and why."""


class BinariesMissingError(BackingServiceError):
    """PostgreSQL, PostGIS or Redis is not installed; the message names the Debian packages."""


def is_ci() -> bool:
    """True when the `CI` environment variable is set to a true value (as CI providers do)."""
    return os.environ.get("CI", "").strip().lower() in _TRUTHY


def scratch_root() -> Path:
    """Where work directories go: `TRIPGEN_BACKING_DIR`, else /dev/shm, else the system temp dir.

    A tmpfs such as /dev/shm makes initdb 2-3x faster than a journaled disk on a busy machine
    (measured 0.8 s against 2.2 s), and test data is small and disposable.
    """
    configured = os.environ.get("TRIPGEN_BACKING_DIR")
    if configured:
        return Path(configured)
    shm = Path("/dev/shm")
    with contextlib.suppress(OSError):
        stats = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and stats.f_bavail * stats.f_frsize >= _SHM_MIN_FREE:
            return shm
    return Path(tempfile.gettempdir())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class MissingFile:
    """A file a backing server needs, and the Debian package that provides it."""

    path: Path
    package: str


@dataclass(frozen=True)
class Binaries:
    """Where the server binaries live (Debian layout; each overridable by environment variable)."""

    pg_bindir: Path
    pg_libdir: Path
    pg_extension_dir: Path
    redis_server: Path

    @classmethod
    def from_env(cls) -> Binaries:
        bindir = Path(os.environ.get("TRIPGEN_PG_BINDIR", f"/usr/lib/postgresql/{PG_MAJOR}/bin"))
        redis_default = shutil.which("redis-server") or "/usr/bin/redis-server"
        return cls(
            pg_bindir=bindir,
            pg_libdir=Path(os.environ.get("TRIPGEN_PG_LIBDIR", str(bindir.parent / "lib"))),
            pg_extension_dir=Path(
                os.environ.get(
                    "TRIPGEN_PG_EXTENSION_DIR", f"/usr/share/postgresql/{PG_MAJOR}/extension"
                )
            ),
            redis_server=Path(os.environ.get("TRIPGEN_REDIS_SERVER", redis_default)),
        )

    @property
    def initdb(self) -> Path:
        return self.pg_bindir / "initdb"

    @property
    def postgres(self) -> Path:
        return self.pg_bindir / "postgres"

    def missing(self) -> list[MissingFile]:
        """Every required file that does not exist, with the package to install for it."""
        postgresql, postgis, redis_server = DEBIAN_PACKAGES
        required = [
            (self.initdb, postgresql),
            (self.postgres, postgresql),
            (self.pg_extension_dir / "pg_trgm.control", postgresql),
            (self.pg_extension_dir / "postgis.control", postgis),
            (self.pg_libdir / "postgis-3.so", postgis),
            (self.redis_server, redis_server),
        ]
        return [MissingFile(path, package) for path, package in required if not path.exists()]

    def versions(self) -> dict[str, str]:
        """`--version` output of each server binary that exists."""
        found: dict[str, str] = {}
        for name, binary in (("postgres", self.postgres), ("redis-server", self.redis_server)):
            if binary.exists():
                result = subprocess.run(
                    [str(binary), "--version"], capture_output=True, text=True, check=False
                )
                found[name] = (result.stdout or result.stderr).strip()
        return found


def _missing_message(missing: Sequence[MissingFile]) -> str:
    packages = sorted({item.package for item in missing})
    files = "\n".join(f"  {item.path}  (package {item.package})" for item in missing)
    return (
        f"PostgreSQL {PG_MAJOR} + PostGIS and Redis are needed but these files are missing:\n"
        f"{files}\n"
        f"Install them with:  sudo apt-get install -y {' '.join(packages)}\n"
        "(as root, `TRIPGEN_AUTO_INSTALL=1` or `CI=true` lets the harness install them itself)"
    )


def _auto_install_allowed() -> bool:
    """Root only; `TRIPGEN_AUTO_INSTALL` decides when set (1 or 0), else `CI` does."""
    if os.geteuid() != 0:
        return False
    choice = os.environ.get("TRIPGEN_AUTO_INSTALL", "").strip().lower()
    return choice in _TRUTHY if choice else is_ci()


def _apt_install(packages: Sequence[str]) -> None:
    if os.geteuid() != 0:
        raise BinariesMissingError(
            f"installing {' '.join(packages)} needs root; run: "
            f"sudo apt-get install -y {' '.join(packages)}"
        )
    if shutil.which("apt-get") is None:
        raise BinariesMissingError(
            f"apt-get not found: install {' '.join(packages)} (or their equivalents) by hand"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Debian's postinst scripts would start a system PostgreSQL/Redis; policy-rc.d exit 101 is
    # Debian's documented way to forbid that, so the install leaves no server process behind.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", *packages],
        ):
            result = subprocess.run(command, env=env, check=False)
            if result.returncode != 0:
                raise BinariesMissingError(
                    f"`{' '.join(command)}` failed with exit code {result.returncode}"
                )
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)


def ensure_binaries(install: bool | None = None) -> None:
    """Make sure PostgreSQL 15, PostGIS 3 and Redis are installed.

    Missing ones are installed with apt when `install` is true, or when it is None and we are root
    with `TRIPGEN_AUTO_INSTALL=1` (or, when that variable is unset, `CI=true`). Otherwise raise
    `BinariesMissingError` naming the Debian packages to install.
    """
    missing = Binaries.from_env().missing()
    if not missing:
        return
    if install is None:
        install = _auto_install_allowed()
    if not install:
        raise BinariesMissingError(_missing_message(missing))
    _apt_install(sorted({item.package for item in missing}))
    still_missing = Binaries.from_env().missing()
    if still_missing:
        raise BinariesMissingError("apt-get finished but " + _missing_message(still_missing))


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int


def _service_account() -> _Account | None:
    """The unprivileged account servers run as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("TRIPGEN_SERVICE_USER", "tripgen")
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(name)
        return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid)
    command = [
        "useradd", "--system", "--user-group", "--no-create-home",
        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        detail = result.stderr.strip()
    except FileNotFoundError:
        detail = "useradd not found"
    # Another process may have created the account concurrently; then useradd failed harmlessly.
    for candidate in (name, "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(candidate)
            return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid)
    raise BackingServiceError(
        f"PostgreSQL cannot run as root and creating the system user {name!r} failed: {detail}"
    )


def _prepare_dir(path: Path, account: _Account | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    # Private to the service account: it holds a trust-auth unix socket and the logs.
    path.chmod(0o700)
    if account is not None:
        os.chown(path, account.uid, account.gid)


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel send `sig` to the child when its parent goes away."""
    libc = _LIBC
    if libc is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        # Runs after subprocess has switched uid: a credential change would clear the setting.
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def _child_env() -> dict[str, str]:
    # PG* variables of the caller (PGPORT, PGDATA, …) would silently change what the servers do.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    return env


def _spawn(
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    account: _Account | None,
    death_signal: signal.Signals,
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=_child_env(),
            # Own session: a Ctrl-C in the terminal reaches us, and we stop servers in order.
            start_new_session=True,
            preexec_fn=_die_with_parent(death_signal),
            user=account.uid if account else None,
            group=account.gid if account else None,
            extra_groups=[] if account else None,
        )


def _terminate(
    process: subprocess.Popen[bytes], escalation: Sequence[tuple[signal.Signals, float]]
) -> None:
    """Send each signal in turn, waiting its grace period, until the process has exited."""
    for sig, grace_s in escalation:
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    if process.poll() is None:
        raise BackingServiceError(f"process {process.pid} ({process.args!r}) did not exit")


def child_pids(pid: int) -> list[int]:
    """Pids whose parent is `pid` (Linux /proc); used to make sure nothing is left behind."""
    children: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent pid; field 2 (the command) may contain spaces: split after it.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    """PostgreSQL 15 with PostGIS and pg_trgm, data in `workdir`, listening on `host:port` only.

    Password (SCRAM) authentication over TCP, so the DSN is a realistic one; trust only on the
    unix socket inside `workdir`. The database `database` is created with the extensions installed
    (as the superuser `user`), so service migrations can rely on them. `stop()` keeps the data and
    the port: `start()` afterwards brings the same server back at the same address.
    """

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
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.user = user
        self.password = password
        self.database = database
        self.extensions = tuple(extensions)
        self.data_dir = workdir / "data"
        self.socket_dir = workdir
        self.log_path = workdir / "postgresql.log"
        self.ready_timeout_s = ready_timeout_s
        self._settings = {**TEST_POSTGRES_SETTINGS, **(settings or {})}
        self._binaries = binaries or Binaries.from_env()
        self._account: _Account | None = None
        self._initdb: subprocess.Popen[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._bootstrapped = False
        self._deadline = 0.0

    @property
    def dsn(self) -> str:
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(self.database)}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        return self._process.pid if self.is_running() and self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start and wait until the database accepts password logins over TCP."""
        self.begin_start()
        self.finish_start()

    def begin_start(self) -> None:
        """Launch without waiting (initdb on first start), so another server can start meanwhile."""
        if self.is_running() or self._initdb is not None:
            return
        self._deadline = time.monotonic() + self.ready_timeout_s
        self._account = _service_account()
        _prepare_dir(self.workdir, self._account)
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
            _terminate(self._initdb, [(signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)])
            self._initdb = None
        process, self._process = self._process, None
        if process is None:
            return
        backends = child_pids(process.pid)
        _terminate(process, [(signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)])
        if process.returncode == -signal.SIGKILL:
            # A killed postmaster cannot reap its backends; do it for it.
            for pid in backends:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _launch_initdb(self) -> None:
        password_file = self.workdir / "initdb.pw"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if self._account is not None:
            os.chown(password_file, self._account.uid, self._account.gid)
        argv = [
            str(self._binaries.initdb),
            f"--pgdata={self.data_dir}",
            f"--username={self.user}",
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
        self._initdb = _spawn(
            argv,
            log=self.log_path,
            cwd=self.workdir,
            account=self._account,
            death_signal=signal.SIGKILL,
        )

    def _await_initdb(self) -> None:
        assert self._initdb is not None
        try:
            code = self._initdb.wait(timeout=max(0.0, self._deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            raise BackingServiceError(
                f"initdb did not finish within {self.ready_timeout_s:.0f} s; "
                f"log {self.log_path}:\n{_tail(self.log_path)}"
            ) from None
        finally:
            (self.workdir / "initdb.pw").unlink(missing_ok=True)
        self._initdb = None
        if code != 0:
            raise BackingServiceError(
                f"initdb failed with exit code {code}; log {self.log_path}:\n{_tail(self.log_path)}"
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
        self._process = _spawn(
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
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise BackingServiceError(
                    f"PostgreSQL exited with code {code} during start-up; "
                    f"log {self.log_path}:\n{_tail(self.log_path)}"
                )
            if time.monotonic() > self._deadline:
                self.stop()
                raise BackingServiceError(
                    f"PostgreSQL not ready within {self.ready_timeout_s:.0f} s; "
                    f"log {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(_POLL_S)

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


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """Redis, memory only (no RDB, no AOF), maxmemory 512mb allkeys-lru as SPEC.md's dev Redis.

    `stop()` keeps the port, so `start()` brings Redis back at the same address (empty, as a
    memory-only Redis is after a restart).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        maxmemory: str = "512mb",
        maxmemory_policy: str = "allkeys-lru",
        ready_timeout_s: float = 30.0,
        binaries: Binaries | None = None,
    ) -> None:
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.maxmemory = maxmemory
        self.maxmemory_policy = maxmemory_policy
        self.log_path = workdir / "redis.log"
        self.ready_timeout_s = ready_timeout_s
        self._binaries = binaries or Binaries.from_env()
        self._process: subprocess.Popen[bytes] | None = None
        self._deadline = 0.0

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.is_running() and self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start and wait until Redis answers PING."""
        self.begin_start()
        self.finish_start()

    def begin_start(self) -> None:
        if self.is_running():
            return
        self._deadline = time.monotonic() + self.ready_timeout_s
        account = _service_account()
        _prepare_dir(self.workdir, account)
        argv = [
            str(self._binaries.redis_server),
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.workdir),
            "--maxmemory", self.maxmemory,
            "--maxmemory-policy", self.maxmemory_policy,
        ]  # fmt: skip
        self._process = _spawn(
            argv,
            log=self.log_path,
            cwd=self.workdir,
            account=account,
            death_signal=signal.SIGTERM,
        )

    def finish_start(self) -> None:
        if self._process is None:
            raise BackingServiceError("RedisServer.finish_start() called before begin_start()")
        # No client-side retries: each refused probe must return at once so we can poll again.
        client = redis.Redis(
            host=self.host,
            port=self.port,
            socket_connect_timeout=0.2,
            socket_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while True:
                code = self._process.poll()
                if code is not None:
                    self._process = None
                    raise BackingServiceError(
                        f"Redis exited with code {code} during start-up; "
                        f"log {self.log_path}:\n{_tail(self.log_path)}"
                    )
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.ping():
                        return
                if time.monotonic() > self._deadline:
                    self.stop()
                    raise BackingServiceError(
                        f"Redis not ready within {self.ready_timeout_s:.0f} s; "
                        f"log {self.log_path}:\n{_tail(self.log_path)}"
                    )
                time.sleep(_POLL_S)
        finally:
            client.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            _terminate(process, [(signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)])

    def restart(self) -> None:
        self.stop()
        self.start()


# --------------------------------------------------------------------------- both

_WORKDIR_PREFIX = "tripgen-backing-"
_OWNER_FILE = "owner.pid"


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def remove_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove work directories whose owner died without cleaning up (SIGKILL); return them.

    Their servers went with the owner (parent-death signal) but their data stays, in RAM when
    it lives on /dev/shm, until someone removes it. Directories without an owner file (given by
    the caller, or kept on purpose) are left alone, and so is any with a live postmaster.
    """
    removed: list[Path] = []
    for path in (root or scratch_root()).glob(f"{_WORKDIR_PREFIX}*"):
        owner = _pid_in(path / _OWNER_FILE)
        postmaster = _pid_in(path / "postgres" / "data" / "postmaster.pid")
        if owner is None or any(
            pid is not None and Path(f"/proc/{pid}").exists() for pid in (owner, postmaster)
        ):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


class BackingServices:
    """PostgreSQL and Redis started concurrently in one temporary directory (see `scratch_root`).

    A context manager; `stop()` stops both and removes the directory (unless `keep_workdir`).
    To stop one server mid-run and bring it back at the same address, use
    `.postgres.stop()` / `.postgres.start()` (same for `.redis`).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        ready_timeout_s: float = 30.0,
        keep_workdir: bool = False,
    ) -> None:
        self._owns_workdir = workdir is None
        self.keep_workdir = keep_workdir
        if workdir is None:
            root = scratch_root()
            remove_stale_workdirs(root)
            workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=root))
            if not keep_workdir:  # marks it for `remove_stale_workdirs` should we be killed
                (workdir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Traversable but not listable: the unprivileged service account must reach its subdirs.
        self.workdir.chmod(0o711)
        self.postgres = PostgresServer(self.workdir / "postgres", ready_timeout_s=ready_timeout_s)
        self.redis = RedisServer(self.workdir / "redis", ready_timeout_s=ready_timeout_s)
        self.ready_s: float | None = None

    def start(self) -> None:
        """Start both; initdb (the slow part) runs while Redis starts. Sets `ready_s`."""
        started = time.monotonic()
        atexit.register(self.stop)
        try:
            self.postgres.begin_start()
            self.redis.begin_start()
            self.redis.finish_start()
            self.postgres.finish_start()
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.monotonic() - started

    def stop(self) -> None:
        """Stop both (each even if the other fails) and remove the work directory."""
        atexit.unregister(self.stop)
        try:
            self.redis.stop()
        finally:
            self.postgres.stop()
            if self._owns_workdir and not self.keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def environment(self) -> dict[str, str]:
        """The settings variables that point TripGen's services at these servers."""
        return {"TRIPGEN_DATABASE_URL": self.postgres.dsn, "TRIPGEN_REDIS_URL": self.redis.url}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def _cmd_ensure(args: argparse.Namespace) -> int:
    binaries = Binaries.from_env()
    before = binaries.missing()
    ensure_binaries(install=args.install)
    if before:
        print("installed: " + " ".join(sorted({item.package for item in before})))
    for name, version in binaries.versions().items():
        print(f"{name}: {version}")
    print(f"PostgreSQL binaries: {binaries.pg_bindir}")
    print(f"PostGIS + pg_trgm:   {binaries.pg_extension_dir}")
    print(f"redis-server:        {binaries.redis_server}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    ensure_binaries(install=args.install)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    workdir = Path(args.workdir) if args.workdir else None
    with BackingServices(workdir, keep_workdir=args.keep) as services:
        postgres, redis_server = services.postgres, services.redis
        print(f"PostgreSQL + PostGIS on {postgres.host}:{postgres.port} pid {postgres.pid}")
        print(f"Redis on {redis_server.host}:{redis_server.port} pid {redis_server.pid}")
        print(f"work directory {services.workdir}; ready in {services.ready_s:.2f} s")
        for name, value in services.environment().items():
            print(f"{name}={value}")
        print("Ctrl-C stops both.", flush=True)
        while not stop_requested.wait(0.5):
            for name, server in (("PostgreSQL", services.postgres), ("Redis", services.redis)):
                if not server.is_running():
                    print(f"{name} exited unexpectedly; stopping", file=sys.stderr)
                    return 1
    print("stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.backing",
        description="Real PostgreSQL 15 + PostGIS and Redis on free loopback ports.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    install = argparse.ArgumentParser(add_help=False)
    install.add_argument(
        "--install",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="install missing packages with apt-get (needs root); default: only when root "
        "and CI=true or TRIPGEN_AUTO_INSTALL=1",
    )
    commands.add_parser(
        "ensure",
        parents=[install],
        help="check (or install) the PostgreSQL, PostGIS and Redis binaries and print them",
    ).set_defaults(handler=_cmd_ensure)
    run = commands.add_parser(
        "run",
        parents=[install],
        help="start both servers, print TRIPGEN_DATABASE_URL / TRIPGEN_REDIS_URL, wait for Ctrl-C",
    )
    run.add_argument(
        "--workdir",
        help="directory for data and logs (default: a new one under /dev/shm or the temp dir); "
        "as root, the unprivileged service account must be able to reach it",
    )
    run.add_argument("--keep", action="store_true", help="keep the work directory on exit")
    run.set_defaults(handler=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BackingServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

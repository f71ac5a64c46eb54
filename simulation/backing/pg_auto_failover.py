"""PostgreSQL with automatic failover: pg_auto_failover's monitor and data nodes (Debian
`postgresql-15-auto-failover`), each a `ServerProcess` running `pg_autoctl create … --run`. That
command is re-entrant, so the same command line starts a node the first time and resumes it after
a restart (a node that was primary and comes back after a failover rejoins as the standby).

Why pg_auto_failover rather than Patroni + etcd (both measured on this machine type, DESIGN.md ›
Production parts): with the timeouts below both fail over in about 5 s with 0 acknowledged rows
lost, but pg_auto_failover is one process tree per node and no consensus store (Patroni needs etcd,
a REST port per node, and detaches postgres so that killing a node means hunting the pid in
`postmaster.pid`; killing only Patroni leaves a read-write orphan). Defaults miss SPEC.md's 30 s
failover target (52 s measured), hence `MONITOR_SETTINGS` and `KEEPER_SETTINGS`.

Replication is synchronous while the standby is healthy (pg_auto_failover's replication quorum:
`synchronous_standby_names = 'ANY 1 (…)'`): a write acknowledged by the primary is on the standby
too. When the standby is gone the monitor switches the primary to `wait_primary` (asynchronous),
so writes continue — availability first, as Azure's zone-redundant HA does.

Clients reach the primary through a multi-host libpq string with `target_session_attrs=read-write`
(`multi_host_dsn`): libpq tries each host and keeps the one that accepts writes, so after a
failover new connections find the new primary by themselves. All reads go to the primary too; the
standby is a hot standby for failover only, not a read replica.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from simulation.backing.binaries import Binaries, tool
from simulation.backing.errors import BackingServiceError
from simulation.backing.postgres import TEST_POSTGRES_SETTINGS, initdb_command
from simulation.backing.processes import (
    POLL_S,
    crash,
    prepare_dir,
    process_tree,
    service_account,
    spawn,
)
from simulation.backing.spawned import SpawnedServer

MONITOR_DATABASE = "pg_auto_failover"
MONITOR_USER = "autoctl_node"
FORMATION = "default"

# The monitor's health checks and timeouts (milliseconds). Defaults (5 s checks, 20 s unhealthy,
# 30 s demote) failed over in 52 s here; these gave 5.0 s with 0 rows lost in 12 runs.
MONITOR_SETTINGS: Mapping[str, str] = {
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "2000",
    "pgautofailover.primary_demote_timeout": "2000",
    "pgautofailover.startup_grace_period": "2000",
}
# The keepers' side (seconds): a primary cut off from monitor and standby demotes itself quickly.
KEEPER_SETTINGS: Mapping[str, str] = {"timeout.network_partition_timeout": "1"}

# pg_autoctl sizes shared_buffers to a quarter of the machine's memory (6 GB on this machine);
# the simulation runs three clusters on one host, so memory settings are overridden. They go in
# postgresql.auto.conf, which PostgreSQL reads after pg_autoctl's include file.
SMALL_FOOTPRINT: Mapping[str, str] = {
    "shared_buffers": "128MB",
    "effective_cache_size": "512MB",
    "work_mem": "4MB",
    "maintenance_work_mem": "64MB",
    # pg_autoctl keeps 8 GB of WAL for standbys; its replication slots already hold what a standby
    # needs, and on /dev/shm every kept segment is RAM.
    "wal_keep_size": "256MB",
    "max_wal_size": "256MB",
    "min_wal_size": "64MB",
    "timezone": "UTC",
    "log_timezone": "UTC",
}
NODE_SETTINGS: Mapping[str, str] = {
    **SMALL_FOOTPRINT,
    "max_connections": TEST_POSTGRES_SETTINGS["max_connections"],
    # The standby's base backup waits for a checkpoint; spreading it (the default 0.9) made the
    # first standby take 10.9 s instead of 3.7 s.
    "checkpoint_completion_target": "0",
}
STABLE_STATES = frozenset({"single", "primary", "secondary"})
PRIMARY_STATES = frozenset({"single", "primary", "wait_primary"})


@dataclass(frozen=True)
class NodeState:
    """One data node as the monitor sees it."""

    name: str
    host: str
    port: int
    reported: str  # the state the node's keeper reached
    assigned: str  # the state the monitor wants it in
    healthy: bool

    @property
    def is_primary(self) -> bool:
        return self.assigned in PRIMARY_STATES and self.reported in PRIMARY_STATES

    @property
    def settled(self) -> bool:
        return self.reported == self.assigned and self.reported in STABLE_STATES


def formation_state(monitor_port: int, host: str = "127.0.0.1") -> list[NodeState]:
    """Every data node of the formation, from the monitor (raises `psycopg.Error` when the
    monitor does not answer)."""
    with psycopg.connect(
        host=host, port=monitor_port, user=MONITOR_USER, dbname=MONITOR_DATABASE, connect_timeout=2
    ) as conn:
        rows = conn.execute(
            "SELECT nodename, nodehost, nodeport, reportedstate::text, goalstate::text, health "
            "FROM pgautofailover.node WHERE formationid = %s ORDER BY nodeid",
            (FORMATION,),
        ).fetchall()
    return [
        NodeState(str(n), str(h), int(p), str(r), str(g), health == 1)
        for n, h, p, r, g, health in rows
    ]


def primary_of(monitor_port: int, host: str = "127.0.0.1") -> NodeState | None:
    """The node the monitor has made primary, None during a failover or when unreachable."""
    with contextlib.suppress(psycopg.Error):
        for node in formation_state(monitor_port, host):
            if node.is_primary:
                return node
    return None


def multi_host_dsn(
    ports: Sequence[int], *, user: str, password: str, database: str, host: str = "127.0.0.1"
) -> str:
    """The libpq URL every client uses: all data nodes, and only the one accepting writes."""
    hosts = ",".join(f"{host}:{port}" for port in ports)
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return (
        f"postgresql://{credentials}@{hosts}/{quote(database)}"
        "?target_session_attrs=read-write&connect_timeout=2"
    )


def write_auto_conf(data_dir: Path, settings: Mapping[str, str]) -> None:
    """Settings PostgreSQL reads last (after pg_autoctl's include file)."""
    lines = [f"{name} = '{value}'" for name, value in settings.items()]
    (data_dir / "postgresql.auto.conf").write_text(
        "# Written by simulation/backing/pg_auto_failover.py\n" + "\n".join(lines) + "\n"
    )


class _Autoctl(SpawnedServer):
    """A `pg_autoctl … --run` process tree: its supervisor, postgres and the keeper or
    listener. `stop()` is a fast shutdown of the whole node; `crash()` kills it outright."""

    death_signal = signal.SIGINT
    stop_escalation = ((signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0))
    poll_s = POLL_S * 5

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None,
        socket_dir: Path,
        host: str = "127.0.0.1",
        ready_timeout_s: float = 60.0,
        binaries: Binaries | None = None,
    ) -> None:
        super().__init__(
            workdir,
            port=port,
            host=host,
            log_name="pg_autoctl.log",
            ready_timeout_s=ready_timeout_s,
            binaries=binaries,
        )
        self.data_dir = workdir / "data"
        self.socket_dir = socket_dir

    def environment(self) -> dict[str, str]:
        """pg_autoctl keeps its config and state under XDG directories, by default in a home
        the service account does not have; PATH finds pg_ctl & co. of the right major."""
        return {
            "HOME": str(self.workdir),
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "XDG_DATA_HOME": str(self.workdir / "share"),
            "XDG_RUNTIME_DIR": str(self.workdir / "run"),
            "PGHOST": str(self.socket_dir),
            "PATH": f"{self._binaries.pg_bindir}:/usr/bin:/bin",
        }

    def _common_args(self) -> list[str]:
        return [
            "--pgdata", str(self.data_dir),
            "--pgport", str(self.port),
            "--pgctl", str(self._binaries.pg_bindir / "pg_ctl"),
            "--hostname", self.host,
            # pg_hba.conf is ours (`pg_hba`, `monitor_hba`): pg_autoctl's lines would land
            # after initdb's SCRAM line, where they never match.
            "--skip-pg-hba",
            "--no-ssl",
        ]  # fmt: skip

    def prepare(self) -> None:
        """Directories (and, where the subclass needs it, the data directory) before launch."""
        super().prepare()
        prepare_dir(self.socket_dir, self._account)

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        return None

    def stop(self) -> None:
        """pg_autoctl's fast stop (SIGINT) of the node; escalates, and never leaves postgres."""
        super().stop()
        self._reap_postmaster()

    def crash(self) -> list[int]:
        """Kill the node's every process at once (a lost machine); returns the pids."""
        process, self._process = self._process, None
        pids = process_tree(process.pid) if process is not None else []
        postmaster = self.postmaster_pid()
        if postmaster is not None:
            pids += [p for p in process_tree(postmaster) if p not in pids]
        hit = crash(pids)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        return hit

    def _reap_postmaster(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None and Path(f"/proc/{pid}").exists():
            crash(process_tree(pid))


class PgMonitor(_Autoctl):
    """The pg_auto_failover monitor: a PostgreSQL holding the formation's state, which decides
    every failover. `uri` is what data nodes register with."""

    name = "pg_auto_failover monitor"

    @property
    def uri(self) -> str:
        return (
            f"postgres://{MONITOR_USER}@{self.host}:{self.port}/{MONITOR_DATABASE}?sslmode=disable"
        )

    def prepare(self) -> None:
        super().prepare()
        if not (self.data_dir / "PG_VERSION").exists():
            _initdb(self, user="tripgen", password="tripgen")
            write_auto_conf(
                self.data_dir,
                {
                    **SMALL_FOOTPRINT,
                    **MONITOR_SETTINGS,
                    "unix_socket_directories": str(self.socket_dir),
                },
            )
            (self.data_dir / "pg_hba.conf").write_text(monitor_hba())

    def command(self) -> list[str]:
        return [
            str(tool("pg_autoctl")), "create", "monitor", *self._common_args(),
            "--listen", self.host,
            "--run",
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            formation_state(self.port, self.host)
        except psycopg.Error:
            return False
        return True


class PgDataNode(_Autoctl):
    """A data node: registers with the monitor; the first one (`bootstrap=True`) is created from
    a data directory made here (our superuser and password, our pg_hba), later ones are base
    backups of the primary, so they inherit both."""

    def __init__(
        self,
        workdir: Path,
        *,
        node_name: str,
        monitor_uri: str,
        socket_dir: Path,
        port: int | None = None,
        bootstrap: bool = False,
        user: str = "tripgen",
        password: str = "tripgen",
        database: str = "tripgen",
        settings: Mapping[str, str] | None = None,
        monitor_port: int | None = None,
        host: str = "127.0.0.1",
        ready_timeout_s: float = 60.0,
        binaries: Binaries | None = None,
    ) -> None:
        super().__init__(
            workdir,
            port=port,
            socket_dir=socket_dir,
            host=host,
            ready_timeout_s=ready_timeout_s,
            binaries=binaries,
        )
        self.name = f"PostgreSQL node {node_name}"
        self.node_name = node_name
        self.monitor_uri = monitor_uri
        self.monitor_port = monitor_port
        self.bootstrap = bootstrap
        self.user = user
        self.password = password
        self.database = database
        self.settings = {**NODE_SETTINGS, **(settings or {})}
        self._keeper_configured = False

    def prepare(self) -> None:
        super().prepare()
        if self.bootstrap and not (self.data_dir / "PG_VERSION").exists():
            _initdb(self, user=self.user, password=self.password)
            write_auto_conf(
                self.data_dir,
                {**self.settings, "unix_socket_directories": str(self.socket_dir)},
            )
            (self.data_dir / "pg_hba.conf").write_text(pg_hba())

    def command(self) -> list[str]:
        return [
            str(tool("pg_autoctl")), "create", "postgres", *self._common_args(),
            "--listen", self.host,
            "--name", self.node_name,
            "--username", self.user,
            "--dbname", self.database,
            "--monitor", self.monitor_uri,
            "--run",
        ]  # fmt: skip

    def state(self) -> NodeState | None:
        """This node as the monitor sees it (None before it registered)."""
        if self.monitor_port is None:
            raise BackingServiceError(f"{self.name}: no monitor port to ask")
        with contextlib.suppress(psycopg.Error):
            for node in formation_state(self.monitor_port, self.host):
                if node.name == self.node_name:
                    return node
        return None

    def ready(self) -> bool:
        state = self.state()
        if state is None or not state.settled:
            return False
        if not self._keeper_configured:  # once initialised: `create` rewrites the file till then
            configure_keeper(self)
            self._keeper_configured = True
        return True


def pg_hba() -> str:
    """Trust for pg_auto_failover's own roles on loopback (replication, health checks,
    pg_rewind), SCRAM for everyone else over TCP, trust on the private unix socket."""
    return (
        "# Written by simulation/backing/pg_auto_failover.py\n"
        "local all all trust\n"
        "host replication pgautofailover_replicator 127.0.0.1/32 trust\n"
        "host all pgautofailover_replicator 127.0.0.1/32 trust\n"
        "host all pgautofailover_monitor 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )


def monitor_hba() -> str:
    """The data nodes' keepers reach the monitor as `autoctl_node` over loopback (pg_autoctl
    would append this line after initdb's SCRAM line, where it never matches)."""
    return (
        "# Written by simulation/backing/pg_auto_failover.py\n"
        "local all all trust\n"
        f"host {MONITOR_DATABASE} {MONITOR_USER} 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )


def _initdb(server: _Autoctl, *, user: str, password: str) -> None:
    password_file = server.workdir / "initdb.pw"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    account = service_account()
    if account is not None:
        os.chown(password_file, account.uid, account.gid)
    try:
        process = spawn(
            initdb_command(server._binaries, server.data_dir, user, password_file),
            log=server.log_path,
            cwd=server.workdir,
            account=account,
            death_signal=signal.SIGKILL,
        )
        code = process.wait(timeout=60)
    finally:
        password_file.unlink(missing_ok=True)
    if code != 0:
        raise server._failure(f"initdb for {server.name} failed with exit code {code}")


def configure_keeper(node: PgDataNode) -> None:
    """Apply `KEEPER_SETTINGS` to a registered node; the running keeper reloads its config."""
    account = service_account()
    for key, value in KEEPER_SETTINGS.items():
        result = subprocess.run(
            [str(tool("pg_autoctl")), "config", "set", "--pgdata", str(node.data_dir), key, value],
            env={**os.environ, **node.environment()},
            user=account.uid if account else None,
            group=account.gid if account else None,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise BackingServiceError(
                f"pg_autoctl config set {key} {value} on {node.node_name} failed: "
                f"{(result.stderr or result.stdout).strip()}"
            )

"""The prod simulation's highly available data stores on the local platform: PostgreSQL as a
pg_auto_failover formation (monitor + primary + synchronous standby, `simulation.backing.
pg_auto_failover`), Redis as primary + replica + three Sentinels (`simulation.backing.redis_ha`),
WAL archived by pgBackRest (`simulation.backing.pgbackrest`).

Every member carries a zone, like a managed service's zone-redundant nodes:

    zone-1: pg-1 (first primary), redis-1 (first primary), sentinel-1
    zone-2: pg-2 (standby),       redis-2 (replica),       sentinel-2
    zone-3: pg-monitor,                                    sentinel-3

so losing any one zone leaves a quorum (monitor + one node; two Sentinels) and an outage of the
primaries' zone fails both stores over at once. Members are supervisord programs that are not
restarted when they die (`autorestart=false`): a crashed member is a lost machine, which stays
lost until `restore` brings it back — then it rejoins as the standby/replica.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from simulation.backing.pg_auto_failover import (
    PgDataNode,
    PgMonitor,
    formation_state,
    multi_host_dsn,
)
from simulation.backing.pgbackrest import BackupRepository, PgHost
from simulation.backing.processes import crash, process_tree, service_account
from simulation.backing.redis_ha import RedisNode, RedisSentinel, current_primary, sentinel_url
from simulation.platforms.base import PlatformError
from simulation.platforms.supervisor import ProcessInfo, Program, SupervisorClient, tail

PG_MONITOR = "pg-monitor"
PG_NODES = ("pg-1", "pg-2")
REDIS_NODES = ("redis-1", "redis-2")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
ZONES = {
    "pg-1": "zone-1",
    "pg-2": "zone-2",
    PG_MONITOR: "zone-3",
    "redis-1": "zone-1",
    "redis-2": "zone-2",
    "sentinel-1": "zone-1",
    "sentinel-2": "zone-2",
    "sentinel-3": "zone-3",
}
MEMBERS = (PG_MONITOR, *PG_NODES, *REDIS_NODES, *SENTINELS)
DB_USER = DB_PASSWORD = DB_NAME = "tripgen"


@dataclass(frozen=True)
class HaPlan:
    """Ports of every member and the Redis password, decided before anything starts."""

    ports: dict[str, int]
    redis_password: str
    backing_dir: str

    @property
    def root(self) -> Path:
        return Path(self.backing_dir)

    def zone(self, member: str) -> str:
        return ZONES[member]

    def members_in(self, zone: str) -> list[str]:
        return [m for m in MEMBERS if ZONES[m] == zone]

    def dependency_of(self, member: str) -> str:
        return "postgresql" if member.startswith("pg-") else "redis"

    def workdir(self, member: str) -> Path:
        return self.root / member

    @property
    def socket_dir(self) -> Path:
        return self.root / "pg-sockets"

    @property
    def database_url(self) -> str:
        return multi_host_dsn(
            [self.ports[n] for n in PG_NODES], user=DB_USER, password=DB_PASSWORD, database=DB_NAME
        )

    @property
    def redis_url(self) -> str:
        return sentinel_url([self.ports[s] for s in SENTINELS], password=self.redis_password)

    def redis_node_url(self, port: int) -> str:
        return f"redis://:{self.redis_password}@127.0.0.1:{port}/0"

    def node_dsn(self, member: str, database: str = DB_NAME) -> str:
        return (
            f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.ports[member]}/{database}"
            "?sslmode=disable&connect_timeout=2"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> HaPlan:
        return cls(
            ports={k: int(v) for k, v in raw["ports"].items()},
            redis_password=str(raw["redis_password"]),
            backing_dir=str(raw["backing_dir"]),
        )


def make_ha_plan(ports: list[int], backing_dir: Path) -> HaPlan:
    """`ports` holds one free port per member (in `MEMBERS` order)."""
    return HaPlan(
        ports=dict(zip(MEMBERS, ports, strict=True)),
        redis_password=secrets.token_urlsafe(24),
        backing_dir=str(backing_dir),
    )


HaServer = PgMonitor | PgDataNode | RedisNode | RedisSentinel


def backup_repository(plan: HaPlan) -> BackupRepository:
    """pgBackRest for both data nodes; it backs up from whichever is the primary."""
    return BackupRepository(
        plan.root / "backup",
        [PgHost(plan.workdir(n) / "data", plan.ports[n], plan.socket_dir) for n in PG_NODES],
    )


def servers(plan: HaPlan) -> dict[str, HaServer]:
    """The backing servers of every member: what supervisord runs (`command`, `environment`),
    what prepares their files (`prepare`) and what says they are ready (`ready`)."""
    monitor = PgMonitor(
        plan.workdir(PG_MONITOR), port=plan.ports[PG_MONITOR], socket_dir=plan.socket_dir
    )
    archive = backup_repository(plan).archive_settings()
    found: dict[str, HaServer] = {PG_MONITOR: monitor}
    for index, name in enumerate(PG_NODES):
        found[name] = PgDataNode(
            plan.workdir(name),
            node_name=name,
            monitor_uri=monitor.uri,
            monitor_port=monitor.port,
            socket_dir=plan.socket_dir,
            port=plan.ports[name],
            bootstrap=index == 0,
            user=DB_USER,
            password=DB_PASSWORD,
            database=DB_NAME,
            settings=archive,
        )
    primary_port = plan.ports[REDIS_NODES[0]]
    for index, name in enumerate(REDIS_NODES):
        found[name] = RedisNode(
            plan.workdir(name),
            node_name=name,
            password=plan.redis_password,
            port=plan.ports[name],
            replica_of=None if index == 0 else primary_port,
        )
    for name in SENTINELS:
        found[name] = RedisSentinel(
            plan.workdir(name),
            sentinel_name=name,
            primary_port=primary_port,
            password=plan.redis_password,
            port=plan.ports[name],
        )
    return found


@dataclass(frozen=True)
class Roles:
    """Which member is the primary of each store right now (None: none is, e.g. mid-failover)."""

    postgresql: str | None
    redis: str | None
    postgresql_standbys: tuple[str, ...] = ()

    def primary(self, dependency: str) -> str | None:
        return self.postgresql if dependency == "postgresql" else self.redis


def roles(plan: HaPlan) -> Roles:
    """The current primaries as the monitor and the Sentinels name them."""
    by_port = {port: name for name, port in plan.ports.items()}
    pg_primary: str | None = None
    standbys: list[str] = []
    try:
        for node in formation_state(plan.ports[PG_MONITOR]):
            if node.is_primary:
                pg_primary = node.name
            elif node.reported == "secondary" and node.assigned == "secondary":
                standbys.append(node.name)
    except psycopg.Error:  # the monitor is down (its zone is out): no one to ask
        pg_primary = None
    redis_port = current_primary([plan.ports[s] for s in SENTINELS])
    redis_primary = by_port.get(redis_port) if redis_port is not None else None
    return Roles(pg_primary, redis_primary, tuple(standbys))


def role_of(member: str, current: Roles) -> str:
    """A member's role for status: primary, standby/replica, monitor or sentinel."""
    if member == PG_MONITOR:
        return "monitor"
    if member in SENTINELS:
        return "sentinel"
    if member in (current.postgresql, current.redis):
        return "primary"
    return "standby" if member in PG_NODES else "replica"


def programs(plan: HaPlan, log_of: Callable[[str], Path]) -> list[Program]:
    """One supervisord program per member, started by the deploy in order (`autostart=false`)
    and never restarted by supervisord (`autorestart=false`): a dead member is a lost machine."""
    account = service_account()
    found: list[Program] = []
    for name, server in servers(plan).items():
        postgres = isinstance(server, PgMonitor | PgDataNode)
        found.append(
            Program(
                name=name,
                command=server.command(),
                log_file=log_of(name),
                environment=server.environment(),
                directory=server.workdir,
                user=account.name if account else None,
                autostart=False,
                autorestart=False,
                startsecs=0,
                # pg_autoctl's fast stop (SIGINT) stops its postgres in order; only it gets it.
                stopsignal="INT" if postgres else "TERM",
                stop_as_group=not postgres,
                stopwaitsecs=30 if postgres else 10,
                priority=10,
            )
        )
    return found


# --------------------------------------------------------------------------- bring-up and chaos


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout_s: float,
    states: Callable[[], Mapping[str, ProcessInfo]],
    watched: Sequence[str],
    log_of: Callable[[str], Path],
) -> float:
    """Poll `check` until it holds; fail at once, with the log's end, when a watched program
    died (a member that cannot start), or after `timeout_s`. Returns the seconds waited."""
    began = time.monotonic()
    while not check():
        dead = [n for n, info in states().items() if n in watched and info.state in _DEAD]
        late = time.monotonic() - began > timeout_s
        if dead or late:
            name = (dead or list(watched))[0]
            why = f"{name} exited" if dead else f"not within {timeout_s:.0f} s"
            raise PlatformError(
                f"{what}: {why}; last lines of {log_of(name)}:\n{tail(log_of(name), 15)}"
            )
        time.sleep(0.05)
    return time.monotonic() - began


_DEAD = frozenset({"EXITED", "FATAL", "BACKOFF"})


def _writable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


class BringUp:
    """Start every member in order — the monitor, Redis and the Sentinels at once; pg-1, which
    registers first and becomes the primary; pg-2, its standby — in two halves, so the deploy
    can go on (schema, replicas) while the standby's base backup and catch-up run:

    `start()` returns once the primary takes writes (extensions created) and Redis with its
    replica and Sentinels answers; `finish()` waits for the synchronous standby and creates the
    backup stanza, returning the backup repository."""

    def __init__(
        self,
        client: SupervisorClient,
        plan: HaPlan,
        *,
        log_of: Callable[[str], Path],
        timeout_s: float,
    ) -> None:
        self.client = client
        self.plan = plan
        self.log_of = log_of
        self.timeout_s = timeout_s
        self.found = servers(plan)

    def _wait(
        self,
        what: str,
        check: Callable[[], bool],
        watched: Sequence[str],
        client: SupervisorClient | None = None,
    ) -> None:
        wait_until(
            what,
            check,
            timeout_s=self.timeout_s,
            states=(client or self.client).all_info,
            watched=watched,
            log_of=self.log_of,
        )

    def start(self) -> None:
        for name in (PG_MONITOR, *REDIS_NODES, *SENTINELS):
            self.client.start(name, wait=False)
        self._wait("pg_auto_failover monitor", self.found[PG_MONITOR].ready, [PG_MONITOR])
        first, second = (self.found[n] for n in PG_NODES)
        assert isinstance(first, PgDataNode) and isinstance(second, PgDataNode)
        self.client.start(first.node_name, wait=False)
        self._wait("pg-1 registered", lambda: first.state() is not None, [first.node_name])
        self.client.start(second.node_name, wait=False)
        dsn = self.plan.database_url
        self._wait("PostgreSQL primary taking writes", lambda: _writable(dsn), list(PG_NODES))
        with psycopg.connect(dsn, autocommit=True) as conn:
            for extension in ("postgis", "pg_trgm"):
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                )
        redis_members = [*REDIS_NODES, *SENTINELS]
        self._wait(
            "Redis primary, replica and Sentinels",
            lambda: all(self.found[n].ready() for n in redis_members),
            redis_members,
        )

    def finish(self) -> BackupRepository:
        """Runs on a thread of its own: it gets a supervisord client of its own too (one
        XML-RPC connection cannot carry two threads' calls)."""
        nodes = [self.found[n] for n in PG_NODES]
        self._wait(
            "PostgreSQL primary + synchronous standby",
            lambda: all(node.ready() for node in nodes),
            list(PG_NODES),
            SupervisorClient(self.client.socket_path),
        )
        repository = backup_repository(self.plan)
        repository.create_stanza()
        return repository


def member_pids(client: SupervisorClient, plan: HaPlan, member: str) -> list[int]:
    """The member's every process: the program's tree, and for PostgreSQL the postmaster's."""
    info = client.info(member)
    pids = process_tree(info.pid) if info.pid else []
    server = servers(plan)[member]
    if isinstance(server, PgMonitor | PgDataNode):
        postmaster = server.postmaster_pid()
        if postmaster is not None and Path(f"/proc/{postmaster}").exists():
            pids += [p for p in process_tree(postmaster) if p not in pids]
    return pids


def crash_members(client: SupervisorClient, plan: HaPlan, members: Sequence[str]) -> list[int]:
    """Kill the members' every process in one instant (lost machines); supervisord does not
    restart them. Returns the pids killed."""
    pids: list[int] = []
    for member in members:
        pids += member_pids(client, plan, member)
    return crash(pids)


def start_members(
    client: SupervisorClient,
    plan: HaPlan,
    members: Sequence[str],
    *,
    log_of: Callable[[str], Path],
    timeout_s: float,
) -> float:
    """Start lost members again and wait until each has rejoined (a PostgreSQL node as the
    standby, a Redis node with its replication link up, a Sentinel answering)."""
    if not members:
        return 0.0
    found = servers(plan)
    for member in members:
        client.start(member, wait=False)

    def rejoined(member: str) -> bool:
        server = found[member]
        if not server.ready():
            return False
        if isinstance(server, RedisNode):
            # A lost primary comes back as a primary of its stale data until a Sentinel turns
            # it into a replica (within ~10 s, the Sentinels' INFO period); until then it has
            # not rejoined — unless the Sentinels name it primary (the whole store was out).
            return server.role() == "slave" or roles(plan).redis == member
        return True

    return wait_until(
        f"rejoining {', '.join(members)}",
        lambda: all(rejoined(m) for m in members),
        timeout_s=timeout_s,
        states=client.all_info,
        watched=members,
        log_of=log_of,
    )

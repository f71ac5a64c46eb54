"""The prod simulation's production parts on real servers: PostgreSQL failover with
pg_auto_failover, Redis failover with Sentinel (through the services' own client), pgBackRest
restores (latest and to a point in time), Prometheus loading the generated alert rules.

Each test measures what SPEC.md targets and prints it; the figures are this machine's."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from runs.alerts import render_rules
from runs.spec import load_spec
from services.kit.redis_client import RedisUrlError, parse_sentinel_url, redis_from_url
from services.kit.sessions import SessionPublishError
from simulation.backing.pg_auto_failover import (
    PgDataNode,
    PgMonitor,
    formation_state,
    multi_host_dsn,
    primary_of,
)
from simulation.backing.pgbackrest import BackupRepository, PgHost, wait_writable
from simulation.backing.postgres import PostgresServer
from simulation.backing.prometheus import PrometheusServer, ScrapeJob, ScrapeTarget, render_config
from simulation.backing.redis_ha import (
    RedisNode,
    RedisSentinel,
    sentinel_url,
    wait_for_primary,
)
from simulation.platforms.local_plan import free_ports
from tests.support import session_versions

pytestmark = pytest.mark.integration

SPEC_PG_FAILOVER_S = 30.0  # SPEC.md › Targets › recovery: PG failover < 30 s (v2)
SPEC_REDIS_RECOVERY_S = 60.0  # SPEC.md › Targets › recovery: Redis < 60 s


class Writer:
    """Numbered writes in a loop on a thread; remembers which were acknowledged and when."""

    def __init__(self, write: object, interval_s: float = 0.02) -> None:
        self._write = write
        self.interval_s = interval_s
        self.acked: list[tuple[int, float]] = []
        self.failed_at: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            try:
                self._write(number)  # type: ignore[operator]
                self.acked.append((number, time.monotonic()))
            except Exception:  # any failure of one write is counted, the loop goes on
                self.failed_at.append(time.monotonic())
            time.sleep(self.interval_s)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    @property
    def errors(self) -> int:
        return len(self.failed_at)

    def recovery_after(self, moment: float, timeout_s: float) -> float | None:
        """Seconds from `moment` to the first acknowledged write after the first failure that
        followed it (a write the server committed just before dying may still be answered)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            failed = [at for at in self.failed_at if at > moment]
            later = [at for _, at in self.acked if failed and at > failed[0]]
            if later:
                return later[0] - moment
            time.sleep(0.05)
        return None


@pytest.fixture
def formation(
    prod_tools: None, scratch: Path
) -> Iterator[tuple[PgMonitor, PgDataNode, PgDataNode]]:
    monitor_port, first_port, second_port = free_ports(3)
    sockets = scratch / "sockets"
    monitor = PgMonitor(scratch / "monitor", port=monitor_port, socket_dir=sockets)
    nodes = [
        PgDataNode(
            scratch / name,
            node_name=name,
            monitor_uri=monitor.uri,
            monitor_port=monitor_port,
            socket_dir=sockets,
            port=port,
            bootstrap=name == "pg-1",
        )
        for name, port in (("pg-1", first_port), ("pg-2", second_port))
    ]
    try:
        began = time.monotonic()
        monitor.start()
        nodes[0].begin_start()
        while nodes[0].state() is None:
            time.sleep(0.05)
        nodes[1].begin_start()
        for node in nodes:
            node.finish_start()
        took = time.monotonic() - began
        print(f"\n[pg_auto_failover] monitor + primary + standby in {took:.1f} s")
        yield monitor, nodes[0], nodes[1]
    finally:
        for server in (*reversed(nodes), monitor):
            server.stop()


def test_postgres_fails_over_to_the_standby_without_losing_an_acknowledged_write(
    formation: tuple[PgMonitor, PgDataNode, PgDataNode],
) -> None:
    monitor, first, second = formation
    primary = primary_of(monitor.port)
    assert primary is not None and primary.name == "pg-1"
    dsn = multi_host_dsn([first.port, second.port], user="tripgen", password="tripgen",
                         database="tripgen")  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as conn:
        standby_names = conn.execute("SHOW synchronous_standby_names").fetchone()
        assert standby_names is not None and standby_names[0] != ""
        conn.execute("CREATE TABLE rows (n int PRIMARY KEY)")

    state: dict[str, psycopg.Connection[tuple[object, ...]] | None] = {"conn": None}

    def write(number: int) -> None:
        try:
            if state["conn"] is None:
                state["conn"] = psycopg.connect(dsn, autocommit=True, connect_timeout=2)
            conn = state["conn"]
            assert conn is not None
            conn.execute("INSERT INTO rows VALUES (%s)", (number,))
        except psycopg.Error:
            state["conn"] = None
            raise

    with Writer(write) as writer:
        time.sleep(1.0)
        killed_at = time.monotonic()
        assert first.crash()
        recovery_s = writer.recovery_after(killed_at, SPEC_PG_FAILOVER_S)
        time.sleep(0.5)
    print(
        f"[pg_auto_failover] writes again {recovery_s} s after the primary was killed "
        f"(SPEC < {SPEC_PG_FAILOVER_S:.0f} s); {writer.errors} writes failed meanwhile"
    )
    assert recovery_s is not None and recovery_s < SPEC_PG_FAILOVER_S
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.info.port == second.port
        present = {row[0] for row in conn.execute("SELECT n FROM rows")}
    lost = [n for n, _ in writer.acked if n not in present]
    assert lost == [], f"acknowledged writes lost: {lost[:10]}"
    # The lost node comes back as the new primary's standby.
    first.start()
    states = {n.name: n.reported for n in formation_state(monitor.port)}
    assert states["pg-1"] == "secondary"
    if state["conn"] is not None:
        state["conn"].close()


@pytest.fixture
def sentinels(prod_tools: None, scratch: Path) -> Iterator[list[object]]:
    ports = free_ports(5)
    primary = RedisNode(scratch / "r1", node_name="redis-1", password="pw", port=ports[0])
    replica = RedisNode(
        scratch / "r2", node_name="redis-2", password="pw", port=ports[1], replica_of=ports[0]
    )
    watchers = [
        RedisSentinel(
            scratch / f"s{i}",
            sentinel_name=f"sentinel-{i}",
            primary_port=ports[0],
            password="pw",
            port=ports[2 + i],
        )
        for i in range(3)
    ]
    members: list[object] = [primary, replica, *watchers]
    try:
        for member in members:
            member.begin_start()  # type: ignore[attr-defined]
        for member in members:
            member.finish_start()  # type: ignore[attr-defined]
        yield members
    finally:
        for member in reversed(members):
            member.stop()  # type: ignore[attr-defined]


def test_redis_fails_over_and_the_services_client_follows(sentinels: list[object]) -> None:
    primary, replica, *watchers = sentinels
    assert isinstance(primary, RedisNode) and isinstance(replica, RedisNode)
    ports = [w.port for w in watchers]  # type: ignore[attr-defined]
    url = sentinel_url(ports, password="pw")
    loop = asyncio.new_event_loop()
    client = redis_from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def write(number: int) -> None:
        loop.run_until_complete(client.set(f"k{number}", number))

    try:
        with Writer(write) as writer:
            time.sleep(1.0)
            killed_at = time.monotonic()
            primary.crash()
            recovery_s = writer.recovery_after(killed_at, SPEC_REDIS_RECOVERY_S)
        promoted = wait_for_primary(ports, not_port=primary.port, timeout_s=5)
        print(f"\n[redis sentinel] writes again {recovery_s} s after the primary was killed "
              f"(SPEC < {SPEC_REDIS_RECOVERY_S:.0f} s); {writer.errors} writes failed")  # fmt: skip
        assert recovery_s is not None and recovery_s < SPEC_REDIS_RECOVERY_S
        assert promoted == replica.port
        values = loop.run_until_complete(client.mget([f"k{n}" for n, _ in writer.acked]))
        lost = [n for (n, _), value in zip(writer.acked, values, strict=True) if value is None]
        assert lost == [], f"acknowledged writes lost: {lost[:10]}"
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


async def test_the_revocation_feed_follows_a_redis_failover(sentinels: list[object]) -> None:
    """After the primary dies, each process's revocation feed subscribes on the promoted one, so a
    revocation published there still reaches the others at once (their 30 s poll cannot)."""
    primary, replica, *watchers = sentinels
    assert isinstance(primary, RedisNode) and isinstance(replica, RedisNode)
    url = sentinel_url([w.port for w in watchers], password="pw")  # type: ignore[attr-defined]
    clients = [redis_from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5) for _ in "rw"]
    reader, writer = (session_versions(c, cache_s=30.0) for c in clients)
    try:
        async with reader.listening(), writer.listening():
            assert reader.feed is not None
            await asyncio.wait_for(reader.feed.subscribed.wait(), 5)
            first_subscription = reader.feed.subscribed_at
            assert await reader.is_current("u1", 0)
            primary.crash()
            deadline = time.monotonic() + SPEC_REDIS_RECOVERY_S
            # The feed subscribes again once Sentinel names the promoted primary. (A revocation
            # published before that is not pushed: the poll interval bounds it, as designed.)
            while (reader.feed.subscribed_at or 0.0) <= (first_subscription or 0.0):
                assert time.monotonic() < deadline, "the feed did not subscribe again"
                await asyncio.sleep(0.1)
            while True:
                try:
                    await writer.publish("u1", 3)
                    break
                except SessionPublishError:  # the writer's client has not found it yet
                    assert time.monotonic() < deadline, "no primary took the revocation"
                    await asyncio.sleep(0.2)
            published_at = time.monotonic()
            while await reader.is_current("u1", 2):  # well inside the reader's 30 s poll
                assert time.monotonic() - published_at < 5, "the push did not reach the reader"
                await asyncio.sleep(0.05)
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://:pw@127.0.0.1/tripgen", "is not host:port"),
        ("redis+sentinel://:pw@127.0.0.1:1", r"expected redis\+sentinel://"),
        ("redis+sentinel://127.0.0.1:1/tripgen/x", "database 'x' is not a number"),
    ],
)
def test_a_bad_sentinel_url_names_the_problem(url: str, problem: str) -> None:
    with pytest.raises(RedisUrlError, match=problem):
        parse_sentinel_url(url)


def test_sentinel_url_round_trips() -> None:
    parsed = parse_sentinel_url("redis+sentinel://:s%40cret@h:1,h:2/tripgen/3")
    assert parsed == ([("h", 1), ("h", 2)], "tripgen", 3, "s@cret")


def test_pgbackrest_restores_the_latest_point_and_an_explicit_earlier_time(
    prod_tools: None, scratch: Path
) -> None:
    (port,) = free_ports(1)
    server = PostgresServer(scratch / "pg", port=port)
    host = PgHost(server.data_dir, port, server.workdir)
    repository = BackupRepository(scratch / "backup", [host])
    repository.prepare()
    durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    server._settings.update({**durable, **repository.archive_settings(archive_timeout_s=1)})
    try:
        server.start()
        repository.create_stanza()
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE rows (n int PRIMARY KEY, at timestamptz)")
            began = time.monotonic()
            repository.backup("full")
            backup_s = time.monotonic() - began
            # pgBackRest picks a backup by its stop time, kept in whole seconds.
            time.sleep(1.1)
            for n in range(1, 41):
                conn.execute("INSERT INTO rows VALUES (%s, clock_timestamp())", (n,))
                if n == 20:
                    time.sleep(0.2)
                    target = datetime.now(UTC)
                    time.sleep(0.2)
            # A planned stop: the current WAL segment is archived first (a crash would lose the
            # rows since the last archived one: the DR drill measures that).
            switched = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
            assert switched is not None
            segment = switched[0]
            deadline = time.monotonic() + 30
            archived = "SELECT last_archived_wal FROM pg_stat_archiver"
            while (conn.execute(archived).fetchone() or [None])[0] != segment:
                assert time.monotonic() < deadline, "WAL segment not archived within 30 s"
                time.sleep(0.05)
        server.stop()
        shutil.rmtree(server.data_dir)
        began = time.monotonic()
        repository.restore(server.data_dir)
        server.start()
        wait_writable(server.dsn)  # it answers read-only while it still replays WAL
        restore_s = time.monotonic() - began
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            assert conn.execute("SELECT max(n) FROM rows").fetchone() == (40,)
        print(f"\n[pgbackrest] full backup {backup_s:.1f} s; restore of a deleted data "
              f"directory to taking writes {restore_s:.1f} s")  # fmt: skip
        server.stop()
        shutil.rmtree(server.data_dir)
        repository.restore(server.data_dir, target_time=target)
        server.start()
        wait_writable(server.dsn)
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            assert conn.execute("SELECT max(n) FROM rows").fetchone() == (20,)
            conn.execute("INSERT INTO rows VALUES (41, now())")  # promoted: takes writes
    finally:
        server.stop()


def test_prometheus_loads_the_rules_generated_from_the_sla_spec(
    prod_tools: None, scratch: Path
) -> None:
    (port,) = free_ports(1)
    config = render_config([ScrapeJob("prometheus", [ScrapeTarget(f"127.0.0.1:{port}")])])
    prometheus = PrometheusServer(
        scratch / "prometheus", config=config, rules=render_rules(load_spec("prod")), port=port
    )
    try:
        prometheus.start()
        groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    finally:
        prometheus.stop()
    alerts = [r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"]
    assert alerts == [a.alert for a in load_spec("prod").alerts]
    assert len(alerts) == 7

"""Bringing up a local deployment's infrastructure, everything but the replicas and the data,
and taking a whole deployment down again (`teardown`):

    dev:  initdb (backing.PostgresServer) while supervisord starts Redis and nginx → bootstrap
          (database, PostGIS, pg_trgm) → PostgreSQL handed to supervisord
    prod: both initdbs (monitor, first node) at once → supervisord → the HA members in order
          (local_ha.bring_up) → the backup stanza; Prometheus and the exporters alongside

Everything that keeps running is a supervisord program, so the deployment outlives the command.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import psycopg
import redis
from rich.console import Console

from simulation import backing
from simulation.platforms import local_ha, local_monitoring, nginx, procfs
from simulation.platforms.base import PlatformError
from simulation.platforms.local_plan import (
    RUN_ID_ENV,
    LocalLayout,
    LocalPlan,
    programs,
    scraped,
    supervisord_environment,
)
from simulation.platforms.supervisor import (
    SupervisorClient,
    SupervisorError,
    connect,
    launch_supervisord,
    render_supervisord_conf,
    terminate,
    wait_gone,
)
from simulation.profiles import SERVICES


def await_postgres(url: str, *, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PlatformError(
                    f"PostgreSQL not accepting connections after {timeout_s:.0f} s ({exc}); "
                    f"log {log}"
                ) from exc
            time.sleep(0.05)


def await_redis(url: str, *, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError as exc:
                if time.monotonic() > deadline:
                    raise PlatformError(
                        f"Redis not answering after {timeout_s:.0f} s ({exc}); log {log}"
                    ) from exc
            time.sleep(0.05)
    finally:
        client.close()


class BackgroundBackup:
    """On a thread while the schema is made and the replicas start: the synchronous standby
    joins (base backup + catch-up), the backup stanza is created and the first full backup is
    taken (3–5 s here); `join` re-raises any failure, so a deploy never reports a standby or a
    backup it does not have."""

    def __init__(self, bring_up: local_ha.BringUp) -> None:
        self.bring_up = bring_up
        self.error: BaseException | None = None
        self.took_s: float | None = None
        self._thread = threading.Thread(target=self._run, name="standby-and-backup", daemon=True)

    def _run(self) -> None:
        try:
            repository = self.bring_up.finish()
            began = time.monotonic()
            repository.backup("full")
            self.took_s = time.monotonic() - began
        except BaseException as exc:  # handed to join()
            self.error = exc

    def start(self) -> BackgroundBackup:
        self._thread.start()
        return self

    def join(self, timeout_s: float = 300.0) -> float | None:
        self._thread.join(timeout_s)
        if self.error is not None:
            raise PlatformError(f"standby or first backup failed: {self.error}") from self.error
        return self.took_s


def _prepare_ha(plan: LocalPlan) -> None:
    """Every member's files; the two initdbs (monitor, first node) run at once."""
    assert plan.ha is not None
    errors: list[BaseException] = []

    def prepare(server: local_ha.HaServer) -> None:
        try:
            server.prepare()
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    found = local_ha.servers(plan.ha)
    threads = [
        threading.Thread(target=prepare, args=(server,), name=f"prepare-{name}")
        for name, server in found.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    local_ha.backup_repository(plan.ha).prepare()
    if errors:
        raise PlatformError(f"preparing the data stores failed: {errors[0]}") from errors[0]


def start_infrastructure(
    plan: LocalPlan,
    layout: LocalLayout,
    nginx_binary: Path,
    console: Console,
    on_supervisord: Callable[[int], None],
    bootstrap: backing.PostgresServer,
) -> BackgroundBackup | None:
    """Start the data stores, nginx and monitoring under supervisord; returns the first backup
    running in the background (prod) or None."""
    layout.create()
    began = time.monotonic()
    if plan.ha is None:
        bootstrap.begin_start()  # initdb in the background; creates the owned data directory
        plan.redis_dir.mkdir(parents=True, exist_ok=True)
        plan.redis_dir.chmod(0o700)
        owner = plan.postgres_dir.stat()
        with suppress(PermissionError):
            os.chown(plan.redis_dir, owner.st_uid, owner.st_gid)
    else:
        with console.status("PostgreSQL (monitor + first node): initdb"):
            _prepare_ha(plan)
    layout.nginx.conf.write_text(
        nginx.render_nginx_conf(
            paths=layout.nginx,
            listen_port=plan.nginx_port,
            upstreams={s: [r.port for r in plan.replicas_of(s)] for s in SERVICES},
            status_port=plan.monitoring.nginx_status_port if plan.monitoring else None,
        )
    )
    try:
        nginx.check_config(nginx_binary, layout.nginx)
    except ValueError as exc:
        raise PlatformError(str(exc)) from exc
    if plan.monitoring is not None:
        local_monitoring.prepare(plan.monitoring, scraped(plan), plan.run_id)
    conf = render_supervisord_conf(layout.supervisor, programs(plan, layout, nginx_binary))
    layout.supervisor.conf.write_text(conf)
    layout.supervisor.conf.chmod(0o600)  # it holds the JWT secret
    supervisord = launch_supervisord(layout.supervisor, supervisord_environment(plan))
    on_supervisord(supervisord.pid)
    client = connect(layout.supervisor, supervisord)
    if plan.monitoring is not None:
        for name in plan.monitoring.programs:
            client.start(name, wait=False)
    backup = _start_stores(plan, layout, client, console, bootstrap)
    client.wait_for(["nginx"], {"RUNNING"}, timeout_s=30)
    console.print(f"  {_summary(plan)} ({time.monotonic() - began:.1f} s)")
    return backup


def _start_stores(
    plan: LocalPlan,
    layout: LocalLayout,
    client: SupervisorClient,
    console: Console,
    bootstrap: backing.PostgresServer,
) -> BackgroundBackup | None:
    if plan.ha is None:
        with console.status("PostgreSQL: initdb + bootstrap"):
            bootstrap.finish_start()
            bootstrap.stop()
        client.start("postgresql", wait=False)
        with console.status("PostgreSQL, Redis, nginx: starting"):
            await_postgres(plan.database_url, timeout_s=30, log=layout.log("postgresql"))
            await_redis(plan.redis_url, timeout_s=30, log=layout.log("redis"))
            client.wait_for(["redis", "postgresql"], {"RUNNING"}, timeout_s=30)
        return None
    bring_up = local_ha.BringUp(client, plan.ha, log_of=layout.log, timeout_s=60)
    with console.status("PostgreSQL primary, Redis + replica + Sentinels"):
        bring_up.start()
    return BackgroundBackup(bring_up).start()


def _summary(plan: LocalPlan) -> str:
    if plan.ha is None:
        stores = f"PostgreSQL :{plan.postgres_port}, Redis :{plan.redis_port}"
    else:
        ports = plan.ha.ports
        stores = (
            f"PostgreSQL {', '.join(f'{n} :{ports[n]}' for n in local_ha.PG_NODES)} "
            f"(monitor :{ports[local_ha.PG_MONITOR]}), Redis "
            f"{', '.join(f'{n} :{ports[n]}' for n in local_ha.REDIS_NODES)} + 3 Sentinels"
        )
    watching = f", Prometheus {plan.monitoring.prometheus_url}" if plan.monitoring else ""
    return f"{stores}, nginx :{plan.nginx_port}{watching}"


def stop_order(plan: LocalPlan) -> list[list[str]]:
    """Replicas, then nginx and monitoring, then the stores (the pg_auto_failover monitor last:
    data nodes that stop report to it)."""
    watching = plan.monitoring.programs if plan.monitoring else []
    replicas = [r.name for r in plan.replicas]
    if plan.ha is None:
        return [replicas, ["nginx", *watching], ["redis", "postgresql"]]
    data = [*local_ha.REDIS_NODES, *local_ha.SENTINELS, *local_ha.PG_NODES]
    return [replicas, ["nginx", *watching], data, [local_ha.PG_MONITOR]]


def teardown(
    plan: LocalPlan, client: SupervisorClient, supervisord_pid: int, console: Console
) -> list[int]:
    """Stop every program, supervisord, then anything still carrying the run's mark; remove the
    backing data. Returns the pids that had to be ended by force."""
    asked_to_exit = False
    if client.alive():
        with console.status("stopping replicas, nginx, monitoring, Redis, PostgreSQL"):
            # supervisord's own shutdown stops one program per turn of its 1 s event loop;
            # stopping every program first (replicas together, then nginx, then the data
            # stores) makes `down` take about one graceful stop, after which it exits at once.
            for names in stop_order(plan):
                for name in names:
                    with suppress(SupervisorError):
                        client.stop(name, wait=False)
                with suppress(SupervisorError):
                    client.wait_for(names, {"STOPPED", "EXITED", "FATAL"}, timeout_s=40)
            with suppress(SupervisorError):
                client.shutdown()
                asked_to_exit = True
    if supervisord_pid:
        with console.status("waiting for supervisord to exit"):
            # After `shutdown` it stops what still runs and exits by itself.
            if not wait_gone(supervisord_pid, 45 if asked_to_exit else 0):
                terminate(supervisord_pid, grace_s=10)
    leftovers = procfs.kill_marked(RUN_ID_ENV, plan.run_id)
    shutil.rmtree(plan.backing_dir, ignore_errors=True)
    return leftovers

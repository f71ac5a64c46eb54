"""The `local` platform: every replica a supervised uvicorn process, nginx in front, no Docker.

    deploy(profile)
      plan ports/zones → state.json (so `down` can always clean up) → initdb + bootstrap
      PostgreSQL (simulation.backing) while supervisord starts Redis and nginx → PostgreSQL as a
      supervisord program → data init `schema` → all replicas at once, data init `sample` and
      `validate` alongside → readiness of every replica

Everything that keeps running is a supervisord program, so the deployment outlives the command,
a killed replica is restarted, and `status`/`down`/chaos from another shell reach it through the
socket recorded in `state.json`. Anything that fails or is interrupted on the way is torn down
before the error is raised.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from rich.console import Console

from simulation import backing
from simulation.platforms import nginx, procfs
from simulation.platforms.base import (
    DependencyStatus,
    DeploymentStatus,
    Endpoints,
    KilledReplica,
    NotDeployed,
    PlatformError,
    ReplicaStatus,
)
from simulation.platforms.datainit import DataInit, StepsInBackground
from simulation.platforms.local_plan import (
    RUN_ID_ENV,
    LocalLayout,
    LocalPlan,
    make_plan,
    programs,
    service_environment,
    supervisord_environment,
)
from simulation.platforms.readiness import is_ready, wait_ready
from simulation.platforms.supervisor import (
    SupervisorClient,
    SupervisorError,
    connect,
    launch_supervisord,
    pid_alive,
    render_supervisord_conf,
    terminate,
    wait_gone,
)
from simulation.profiles import (
    SERVICES,
    check_dependency,
    check_service,
    local_zone,
)
from simulation.state import DeploymentState, clear_state, load_state, run_dir, save_state

NAME = "local"


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Ignore SIGINT while cleaning up (only the main thread may change signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def datainit_environment(plan: LocalPlan) -> dict[str, str]:
    """The data init's environment. A prod simulation still needs data to be measured against,
    so it loads the dev sample set: `services.datainit` refuses sample data under the prod profile
    to protect a real production database, which a local simulation is not; its own
    `TRIPGEN_DATAINIT_PROFILE` setting says so for the data init alone (services stay prod)."""
    env = {**supervisord_environment(plan), **service_environment(plan)}
    env["TRIPGEN_DATAINIT_PROFILE"] = "dev"
    return env


class LocalPlatform:
    name = NAME

    def __init__(
        self,
        directory: Path | None = None,
        *,
        console: Console | None = None,
        ready_timeout_s: float = 90.0,
        extra_env: dict[str, str] | None = None,
        services: tuple[str, ...] = SERVICES,
    ) -> None:
        self.run_dir = run_dir(directory)
        self.services = services
        self.layout = LocalLayout(self.run_dir)
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.ready_timeout_s = ready_timeout_s
        self.extra_env = dict(extra_env or {})
        self.last_deploy_s: float | None = None

    # ------------------------------------------------------------------ lifecycle

    def up(self, profile: str) -> None:
        """Local has nothing to provision ahead of a deploy (no cluster): `deploy` starts the
        supervisor, PostgreSQL, Redis and nginx itself, so `up` only checks the binaries."""
        self._binaries()

    def deploy(self, profile: str) -> Endpoints:
        started = time.monotonic()
        self._refuse_if_running()
        nginx_binary = self._binaries()
        backing_dir = Path(tempfile.mkdtemp(prefix="tripgen-local-"))
        backing_dir.chmod(0o711)  # the service account must reach its subdirectories
        plan = make_plan(
            profile, backing_dir=backing_dir, extra_env=self.extra_env, services=self.services
        )
        self._save(plan, phase="deploying")
        datainit = DataInit(
            environment=datainit_environment(plan),
            services=plan.services,
            logs=self.layout.logs,
            console=self.console,
        )
        bootstrap = plan.postgres_server()
        try:
            self._start_infrastructure(plan, nginx_binary, bootstrap)
            client = self._client()
            self._step("data init: schema", lambda: datainit.run("schema", timeout_s=120))
            for replica in plan.replicas:
                client.start(replica.name, wait=False)
            data_steps = StepsInBackground(datainit, ["sample", "validate"], 300).start()
            self.console.print(
                f"starting {len(plan.replicas)} replicas of {', '.join(plan.services)} "
                f"(profile {profile}); data init sample + validate alongside …"
            )
            ready_s = wait_ready(
                plan.replicas,
                states=client.all_info,
                log_of=self.layout.log,
                console=self.console,
                timeout_s=self.ready_timeout_s,
            )
            with self.console.status("data init: sample + validate"):
                ran = data_steps.join()
            for step in ran:
                self.console.print(f"  data init: {step} ({datainit.log(step)})")
        except BaseException as exc:
            why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self.console.print(f"[red]deploy {why}[/]: stopping everything it started …")
            with _ctrl_c_deferred():  # a second Ctrl-C must not leave half the processes behind
                datainit.terminate()
                bootstrap.stop()
                self._teardown(plan)
            raise
        self._save(plan, phase="running")
        self.last_deploy_s = time.monotonic() - started
        self.console.print(
            f"[green]deployed[/] profile {profile} on local: {len(plan.replicas)} replicas ready "
            f"in {ready_s:.1f} s after start; {self.last_deploy_s:.1f} s in all. "
            f"base_url {plan.base_url}"
        )
        return self._endpoints(plan)

    def down(self) -> None:
        state = load_state(self.run_dir)
        if state is None:
            self.console.print("nothing is deployed (no state.json); nothing to stop")
            return
        if state.platform != NAME:
            raise PlatformError(
                f"the deployment in {self.run_dir} runs on {state.platform!r}, not local"
            )
        plan = LocalPlan.from_dict(state.details["plan"])
        leftovers = self._teardown(plan)
        self.console.print(
            f"[green]down[/]: local deployment of profile {plan.profile} stopped"
            + (f" (ended {len(leftovers)} stray process(es))" if leftovers else "")
        )

    # ------------------------------------------------------------------ queries

    def endpoints(self) -> Endpoints:
        return self._endpoints(self._plan())

    def status(self) -> DeploymentStatus:
        plan = self._plan()
        try:
            info = self._client().all_info()
        except SupervisorError as exc:
            raise NotDeployed(f"the local deployment is not running ({exc}); run down") from exc
        replicas: list[ReplicaStatus] = []
        with httpx.Client(timeout=httpx.Timeout(1.0)) as http:
            for r in plan.replicas:
                proc = info.get(r.name)
                state = proc.state if proc else "UNKNOWN"
                ready = state == "RUNNING" and is_ready(http, r.url)
                replicas.append(
                    ReplicaStatus(
                        r.service, r.name, r.zone, proc.pid if proc else None, state, ready
                    )
                )
        addresses = {
            "postgresql": f"127.0.0.1:{plan.postgres_port}",
            "redis": f"127.0.0.1:{plan.redis_port}",
            "nginx": plan.base_url,
        }
        dependencies = [
            DependencyStatus(
                name,
                address,
                info[name].state if name in info else "UNKNOWN",
                info[name].pid if name in info else None,
            )
            for name, address in addresses.items()
        ]
        return DeploymentStatus(NAME, plan.profile, plan.base_url, replicas, dependencies)

    # ------------------------------------------------------------------ chaos primitives

    def kill_replica(self, service: str, replica: str | None = None) -> KilledReplica:
        plan = self._plan()
        check_service(service)
        candidates = plan.replicas_of(service)
        if replica is not None:
            candidates = [r for r in candidates if r.name == replica]
            if not candidates:
                raise PlatformError(f"{service} has no replica {replica!r}")
        info = self._client().all_info()
        for r in candidates:
            proc = info.get(r.name)
            if proc and proc.running and proc.pid:
                os.kill(proc.pid, signal.SIGKILL)
                return KilledReplica(service, r.name, r.zone, proc.pid, time.time())
        raise PlatformError(f"no running replica of {service} to kill")

    def zone_outage(self, zone: str) -> list[str]:
        plan = self._plan()
        label = local_zone(zone)
        names = [r.name for r in plan.replicas if r.zone == label]
        client = self._client()
        for name in names:
            client.stop(name, wait=False)
        client.wait_for(names, {"STOPPED", "EXITED", "FATAL"}, timeout_s=30)
        self._update_zones_down(add=label)
        return names

    def restore(self, zone: str) -> list[str]:
        plan = self._plan()
        label = local_zone(zone)
        replicas = [r for r in plan.replicas if r.zone == label]
        client = self._client()
        for r in replicas:
            client.start(r.name, wait=False)
        wait_ready(
            replicas,
            states=client.all_info,
            log_of=self.layout.log,
            console=self.console,
            timeout_s=self.ready_timeout_s,
        )
        self._update_zones_down(remove=label)
        return [r.name for r in replicas]

    def stop_dependency(self, name: str) -> None:
        self._plan()
        self._client().stop(check_dependency(name), wait=True)

    def start_dependency(self, name: str) -> None:
        plan = self._plan()
        dependency = check_dependency(name)
        self._client().start(dependency, wait=False)
        if dependency == "postgresql":
            self._await_postgres(plan, timeout_s=60)
        else:
            self._await_redis(plan, timeout_s=30)

    # ------------------------------------------------------------------ internals

    def _binaries(self) -> Path:
        try:
            backing.ensure_binaries()
            return nginx.find_nginx()
        except (backing.BackingServiceError, nginx.NginxMissing) as exc:
            raise PlatformError(str(exc)) from exc

    def _refuse_if_running(self) -> None:
        state = load_state(self.run_dir)
        if state is None:
            return
        if state.platform == NAME and self._supervisor_alive(state):
            raise PlatformError(
                f"profile {state.profile} is already deployed on local at {state.base_url} "
                f"(run dir {self.run_dir}); stop it first with `nox -s down`"
            )
        if state.platform != NAME:
            raise PlatformError(
                f"a {state.platform} deployment is recorded in {self.run_dir}; "
                "stop it first with `nox -s down`"
            )
        # A leftover record of a deployment that is gone (reboot, killed supervisor): clean up.
        self.console.print("[yellow]cleaning up a stale local deployment record[/]")
        self._teardown(LocalPlan.from_dict(state.details["plan"]))

    def _supervisor_alive(self, state: DeploymentState) -> bool:
        pid = int(state.details.get("supervisord_pid") or 0)
        return pid > 0 and pid_alive(pid) and SupervisorClient(self._socket()).alive()

    def _socket(self) -> Path:
        return self.layout.supervisor.socket

    def _client(self) -> SupervisorClient:
        return SupervisorClient(self._socket())

    def _plan(self) -> LocalPlan:
        state = load_state(self.run_dir)
        if state is None:
            raise NotDeployed(
                f"nothing is deployed (no {self.run_dir / 'state.json'}); "
                "run `nox -s deploy-dev-sim` or `nox -s deploy-prod-sim` first"
            )
        if state.platform != NAME:
            raise PlatformError(f"the recorded deployment runs on {state.platform!r}, not local")
        return LocalPlan.from_dict(state.details["plan"])

    def _save(self, plan: LocalPlan, *, phase: str, **details: Any) -> None:
        previous = load_state(self.run_dir)
        merged = dict(previous.details) if previous else {}
        merged.update(details, plan=plan.to_dict(), phase=phase)
        merged.setdefault("zones_down", [])
        save_state(
            self.run_dir,
            DeploymentState(
                platform=NAME,
                profile=plan.profile,
                base_url=plan.base_url,
                services={s: plan.base_url for s in plan.services},
                created_at=previous.created_at if previous else time.time(),
                details=merged,
            ),
        )

    def _update_zones_down(self, *, add: str | None = None, remove: str | None = None) -> None:
        state = load_state(self.run_dir)
        if state is None:
            return
        zones = set(state.details.get("zones_down", []))
        if add:
            zones.add(add)
        if remove:
            zones.discard(remove)
        state.details["zones_down"] = sorted(zones)
        save_state(self.run_dir, state)

    def _endpoints(self, plan: LocalPlan) -> Endpoints:
        return Endpoints(
            base_url=plan.base_url,
            services={s: plan.base_url for s in plan.services},
            replicas={s: [r.url for r in plan.replicas_of(s)] for s in plan.services},
            dependencies={"postgresql": plan.database_url, "redis": plan.redis_url},
        )

    def _step(self, label: str, action: Callable[[], None]) -> None:
        """Run `action` under a spinner; report its time."""
        with self.console.status(label):
            began = time.monotonic()
            action()
        self.console.print(f"  {label} ({time.monotonic() - began:.1f} s)")

    def _start_infrastructure(
        self, plan: LocalPlan, nginx_binary: Path, bootstrap: backing.PostgresServer
    ) -> None:
        """initdb runs while supervisord comes up with Redis and nginx; then PostgreSQL is
        bootstrapped (database, PostGIS, pg_trgm), stopped, and handed to supervisord."""
        layout = self.layout
        layout.create()
        began = time.monotonic()
        bootstrap.begin_start()  # initdb in the background; creates the owned data directory
        plan.redis_dir.mkdir(parents=True, exist_ok=True)
        plan.redis_dir.chmod(0o700)
        owner = plan.postgres_dir.stat()
        with suppress(PermissionError):
            os.chown(plan.redis_dir, owner.st_uid, owner.st_gid)
        layout.nginx.conf.write_text(
            nginx.render_nginx_conf(
                paths=layout.nginx,
                listen_port=plan.nginx_port,
                upstreams={s: [r.port for r in plan.replicas_of(s)] for s in SERVICES},
            )
        )
        try:
            nginx.check_config(nginx_binary, layout.nginx)
        except ValueError as exc:
            raise PlatformError(str(exc)) from exc
        conf = render_supervisord_conf(layout.supervisor, programs(plan, layout, nginx_binary))
        layout.supervisor.conf.write_text(conf)
        layout.supervisor.conf.chmod(0o600)  # it holds the JWT secret
        supervisord = launch_supervisord(layout.supervisor, supervisord_environment(plan))
        self._save(plan, phase="deploying", supervisord_pid=supervisord.pid)
        with self.console.status("PostgreSQL: initdb + bootstrap"):
            bootstrap.finish_start()
            bootstrap.stop()
        client = connect(layout.supervisor, supervisord)
        client.start("postgresql", wait=False)
        with self.console.status("PostgreSQL, Redis, nginx: starting"):
            self._await_postgres(plan, timeout_s=30)
            self._await_redis(plan, timeout_s=30)
            client.wait_for(["nginx", "redis", "postgresql"], {"RUNNING"}, timeout_s=30)
        self.console.print(
            f"  PostgreSQL :{plan.postgres_port}, Redis :{plan.redis_port}, "
            f"nginx :{plan.nginx_port} ({time.monotonic() - began:.1f} s)"
        )

    def _await_postgres(self, plan: LocalPlan, *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(plan.database_url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PlatformError(
                        f"PostgreSQL not accepting connections after {timeout_s:.0f} s ({exc}); "
                        f"log {self.layout.log('postgresql')}"
                    ) from exc
                time.sleep(0.05)

    def _await_redis(self, plan: LocalPlan, *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        client = redis.Redis.from_url(plan.redis_url, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError as exc:
                    if time.monotonic() > deadline:
                        raise PlatformError(
                            f"Redis not answering after {timeout_s:.0f} s ({exc}); "
                            f"log {self.layout.log('redis')}"
                        ) from exc
                time.sleep(0.05)
        finally:
            client.close()

    def _teardown(self, plan: LocalPlan) -> list[int]:
        """Stop every program, supervisord, then anything still carrying the run's mark; remove
        the backing data and the record. Returns the pids that had to be ended by force."""
        state = load_state(self.run_dir)
        supervisord_pid = int(state.details.get("supervisord_pid") or 0) if state else 0
        client = self._client()
        asked_to_exit = False
        if client.alive():
            with self.console.status("stopping replicas, nginx, Redis, PostgreSQL"):
                # supervisord's own shutdown stops one program per turn of its 1 s event loop;
                # stopping every program first (replicas together, then nginx, then the data
                # stores) makes `down` take about one graceful stop, after which it exits at once.
                for names in ([r.name for r in plan.replicas], ["nginx"], ["redis", "postgresql"]):
                    for name in names:
                        with suppress(SupervisorError):
                            client.stop(name, wait=False)
                    with suppress(SupervisorError):
                        client.wait_for(names, {"STOPPED", "EXITED", "FATAL"}, timeout_s=40)
                with suppress(SupervisorError):
                    client.shutdown()
                    asked_to_exit = True
        if supervisord_pid:
            with self.console.status("waiting for supervisord to exit"):
                # After `shutdown` it stops PostgreSQL (fast shutdown) and exits by itself.
                if not wait_gone(supervisord_pid, 45 if asked_to_exit else 0):
                    terminate(supervisord_pid, grace_s=10)
        leftovers = procfs.kill_marked(RUN_ID_ENV, plan.run_id)
        shutil.rmtree(plan.backing_dir, ignore_errors=True)
        self._socket().unlink(missing_ok=True)
        clear_state(self.run_dir)
        still_listening = self._ports(plan) & procfs.listening_ports()
        if still_listening:
            raise PlatformError(
                f"after stopping, ports {sorted(still_listening)} are still listening"
            )
        return leftovers

    @staticmethod
    def _ports(plan: LocalPlan) -> set[int]:
        return {plan.nginx_port, plan.postgres_port, plan.redis_port} | {
            r.port for r in plan.replicas
        }

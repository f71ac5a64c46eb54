"""The `local` platform: every replica a supervised uvicorn process, nginx in front, no Docker.

    deploy(profile)
      plan ports/zones → state.json (so `down` can always clean up) → the data stores, nginx
      and monitoring (local_start: dev one PostgreSQL + one Redis; prod pg_auto_failover +
      Redis Sentinel + pgBackRest, local_ha; Prometheus + exporters, local_monitoring) → data
      init `schema` → all replicas at once, data init `sample` and `validate` (and prod's
      first full backup) alongside → readiness of every replica

Everything that keeps running is a supervisord program, so the deployment outlives the command,
a killed replica is restarted, and `status`/`down`/chaos from another shell reach it through the
socket recorded in `state.json`. Anything that fails or is interrupted on the way is torn down
before the error is raised.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from simulation import backing
from simulation.backing.binaries import HA_TOOLS, MONITORING_TOOLS
from simulation.platforms import local_ha, nginx, procfs
from simulation.platforms.base import (
    DeploymentStatus,
    Endpoints,
    KilledMember,
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
    service_environment,
    supervisord_environment,
)
from simulation.platforms.local_start import (
    BackgroundBackup,
    await_postgres,
    await_redis,
    start_infrastructure,
    teardown,
)
from simulation.platforms.local_status import dependency_statuses, memory_by_group
from simulation.platforms.local_status import endpoints as local_endpoints
from simulation.platforms.readiness import is_ready, wait_ready
from simulation.platforms.supervisor import (
    SupervisorClient,
    SupervisorError,
    pid_alive,
)
from simulation.profiles import (
    SERVICES,
    check_dependency,
    check_service,
    local_zone,
)
from simulation.profiles import profile as spec_profile
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
        monitoring: bool | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        self.run_dir, self.replica_counts = run_dir(directory), dict(replicas or {})
        self.monitoring = monitoring  # None: the profile's default (prod yes, dev no)
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
        nginx_binary = self._binaries(profile)
        # tmpfs when there is room: initdb and the WAL of three clusters are 2-3x faster there.
        backing_dir = Path(tempfile.mkdtemp(prefix="tripgen-local-", dir=backing.scratch_root()))
        backing_dir.chmod(0o711)  # the service account must reach its subdirectories
        plan = make_plan(
            profile,
            backing_dir=backing_dir,
            extra_env=self.extra_env,
            services=self.services,
            monitoring=self.monitoring,
            replicas=self.replica_counts,
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
            backup = start_infrastructure(
                plan,
                self.layout,
                nginx_binary,
                self.console,
                lambda pid: self._save(plan, phase="deploying", supervisord_pid=pid),
                bootstrap,
            )
            ready_s = self._start_services(plan, datainit, backup)
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
            + (f"; Prometheus {plan.monitoring.prometheus_url}" if plan.monitoring else "")
        )
        return self._endpoints(plan)

    def _start_services(
        self, plan: LocalPlan, datainit: DataInit, backup: BackgroundBackup | None
    ) -> float:
        """Schema, then every replica at once with the sample data alongside; returns the
        seconds until every replica was ready."""
        client = self._client()
        self._step("data init: schema", lambda: datainit.run("schema", timeout_s=120))
        for replica in plan.replicas:
            client.start(replica.name, wait=False)
        data_steps = StepsInBackground(datainit, ["sample", "validate"], 300).start()
        self.console.print(
            f"starting {len(plan.replicas)} replicas of {', '.join(plan.services)} "
            f"(profile {plan.profile}); data init sample + validate alongside …"
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
        if backup is not None:
            with self.console.status("PostgreSQL standby + first full backup (pgBackRest)"):
                took = backup.join()
            self.console.print(f"  standby in sync; first full backup {took:.1f} s, WAL archived")
        return ready_s

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
        return DeploymentStatus(
            NAME,
            plan.profile,
            plan.base_url,
            replicas,
            dependency_statuses(plan, info),
            monitoring=self._monitoring(plan),
            memory_bytes=memory_by_group(plan, info, RUN_ID_ENV),
        )

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
        """Every replica of the zone stopped and, with HA data stores, the zone's members killed
        at the same instant (a lost zone does not shut down cleanly); returns what was hit."""
        plan = self._plan()
        label = local_zone(zone)
        names = [r.name for r in plan.replicas if r.zone == label]
        members = plan.ha.members_in(label) if plan.ha else []
        client = self._client()
        if members and plan.ha is not None:
            local_ha.crash_members(client, plan.ha, members)
        for name in names:
            client.stop(name, wait=False)
        client.wait_for(names, {"STOPPED", "EXITED", "FATAL"}, timeout_s=30)
        self._update_zones_down(add=label)
        return [*names, *members]

    def restore(self, zone: str) -> list[str]:
        plan = self._plan()
        label = local_zone(zone)
        replicas = [r for r in plan.replicas if r.zone == label]
        client = self._client()
        members = []
        if plan.ha is not None:
            down = self._lost_members(plan.ha)
            members = [m for m in plan.ha.members_in(label) if m in down]
        for r in replicas:
            client.start(r.name, wait=False)
        if members and plan.ha is not None:
            local_ha.start_members(
                client, plan.ha, members, log_of=self.layout.log, timeout_s=self.ready_timeout_s
            )
        wait_ready(
            replicas,
            states=client.all_info,
            log_of=self.layout.log,
            console=self.console,
            timeout_s=self.ready_timeout_s,
        )
        self._update_zones_down(remove=label)
        return [*(r.name for r in replicas), *members]

    def stop_dependency(self, name: str) -> None:
        """Stop `postgresql` or `redis` — with HA, every data node of it (the whole store is
        out; its monitor and Sentinels stay)."""
        plan = self._plan()
        client = self._client()
        for program in self._data_programs(plan, check_dependency(name)):
            client.stop(program, wait=True)

    def start_dependency(self, name: str) -> None:
        plan = self._plan()
        dependency = check_dependency(name)
        client = self._client()
        if plan.ha is not None:
            members = self._data_programs(plan, dependency)
            local_ha.start_members(
                client, plan.ha, members, log_of=self.layout.log, timeout_s=self.ready_timeout_s
            )
            return
        client.start(dependency, wait=False)
        if dependency == "postgresql":
            await_postgres(plan.database_url, timeout_s=60, log=self.layout.log("postgresql"))
        else:
            await_redis(plan.redis_url, timeout_s=30, log=self.layout.log("redis"))

    # ------------------------------------------------------------------ failover (prod-sim)

    def primaries(self) -> dict[str, str | None]:
        ha = self._ha(self._plan())
        roles = local_ha.roles(ha)
        return {"postgresql": roles.postgresql, "redis": roles.redis}

    def kill_primary(self, dependency: str) -> KilledMember:
        """Kill the current primary of `dependency` outright; it stays down until `heal`."""
        ha = self._ha(self._plan())
        dependency = check_dependency(dependency)
        member = local_ha.roles(ha).primary(dependency)
        if member is None:
            raise PlatformError(f"{dependency} has no primary right now (failing over?)")
        pids = local_ha.crash_members(self._client(), ha, [member])
        return KilledMember(dependency, member, ha.zone(member), pids, time.time())

    def heal(self, dependency: str) -> list[str]:
        """Start every lost member of `dependency` again; each rejoins as standby/replica."""
        ha = self._ha(self._plan())
        dependency = check_dependency(dependency)
        lost = [m for m in self._lost_members(ha) if ha.dependency_of(m) == dependency]
        local_ha.start_members(
            self._client(), ha, lost, log_of=self.layout.log, timeout_s=self.ready_timeout_s
        )
        return lost

    # ------------------------------------------------------------------ internals

    def _ha(self, plan: LocalPlan) -> local_ha.HaPlan:
        if plan.ha is None:
            raise PlatformError(
                f"profile {plan.profile} runs one PostgreSQL and one Redis: nothing to fail over "
                "(prod-sim has standbys)"
            )
        return plan.ha

    def _lost_members(self, ha: local_ha.HaPlan) -> list[str]:
        info = self._client().all_info()
        return [m for m in local_ha.MEMBERS if m in info and info[m].state != "RUNNING"]

    @staticmethod
    def _data_programs(plan: LocalPlan, dependency: str) -> list[str]:
        if plan.ha is None:
            return [dependency]
        return list(local_ha.PG_NODES if dependency == "postgresql" else local_ha.REDIS_NODES)

    def _binaries(self, profile: str | None = None) -> Path:
        try:
            backing.ensure_binaries()
            wants_ha = profile is not None and spec_profile(profile).high_availability
            if wants_ha:
                backing.ensure_tools(HA_TOOLS, why="prod-sim's failover and backups")
            if profile is not None and (
                self.monitoring or (self.monitoring is None and spec_profile(profile).monitoring)
            ):
                backing.ensure_tools(MONITORING_TOOLS, why="the deployment's Prometheus")
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
        return local_endpoints(plan)

    @staticmethod
    def _monitoring(plan: LocalPlan) -> dict[str, str]:
        return {"prometheus": plan.monitoring.prometheus_url} if plan.monitoring else {}

    def _step(self, label: str, action: Callable[[], None]) -> None:
        """Run `action` under a spinner; report its time."""
        with self.console.status(label):
            began = time.monotonic()
            action()
        self.console.print(f"  {label} ({time.monotonic() - began:.1f} s)")

    def _teardown(self, plan: LocalPlan) -> list[int]:
        """Stop everything and remove the record; the pids that had to be ended by force."""
        state = load_state(self.run_dir)
        supervisord_pid = int(state.details.get("supervisord_pid") or 0) if state else 0
        leftovers = teardown(plan, self._client(), supervisord_pid, self.console)
        self._socket().unlink(missing_ok=True)
        clear_state(self.run_dir)
        still_listening = plan.ports() & procfs.listening_ports()
        if still_listening:
            raise PlatformError(
                f"after stopping, ports {sorted(still_listening)} are still listening"
            )
        return leftovers

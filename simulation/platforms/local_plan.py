"""The local platform's plan: ports, zones, paths and processes, decided before anything starts.

A `LocalPlan` is written to `state.json` as soon as a deploy begins, so a deploy that is
interrupted (Ctrl-C, a crash, a SIGKILL) can still be cleaned up by `down` from another shell.
`programs()` turns it into the supervisord programs: PostgreSQL and Redis (as the unprivileged
service account when we are root: PostgreSQL refuses root), nginx, and one uvicorn process per
replica.
"""

from __future__ import annotations

import os
import pwd
import secrets
import sys
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simulation import backing
from simulation.backing.processes import fixed_ports
from simulation.platforms import nginx
from simulation.platforms.local_ha import MEMBERS, PG_NODES, REDIS_NODES, HaPlan, make_ha_plan
from simulation.platforms.local_ha import programs as ha_programs
from simulation.platforms.local_monitoring import (
    MonitoringPlan,
    Scraped,
    make_monitoring_plan,
    port_names,
)
from simulation.platforms.local_monitoring import programs as monitoring_programs
from simulation.platforms.supervisor import Program, SupervisorPaths
from simulation.profiles import SERVICES, ReplicaSpec, profile

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_ID_ENV = "TRIPGEN_RUN_ID"  # marks every process of one deployment (see procfs.py)


free_ports = fixed_ports  # every planned port lies outside the ephemeral range


@dataclass(frozen=True)
class PlannedReplica:
    service: str
    index: int
    zone: str
    port: int

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class LocalLayout:
    """Where a local deployment keeps its files inside the run directory."""

    run_dir: Path

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def supervisor(self) -> SupervisorPaths:
        return SupervisorPaths(self.run_dir / "supervisor")

    @property
    def nginx(self) -> nginx.NginxPaths:
        return nginx.NginxPaths(self.run_dir / "nginx")

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def create(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.supervisor.directory.mkdir(parents=True, exist_ok=True)
        self.nginx.create()


@dataclass(frozen=True)
class LocalPlan:
    run_id: str
    profile: str
    replicas: tuple[PlannedReplica, ...]
    nginx_port: int
    postgres_port: int
    redis_port: int
    backing_dir: str  # PostgreSQL data + Redis dir: a temp dir the service account can reach
    jwt_secret: str
    extra_env: dict[str, str] = field(default_factory=dict)
    # prod: PostgreSQL and Redis with automatic failover, pgBackRest (local_ha); else one each.
    ha: HaPlan | None = None
    # Prometheus + exporters (local_monitoring): prod always, dev on request.
    monitoring: MonitoringPlan | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(s for s in SERVICES if any(r.service == s for r in self.replicas))

    @property
    def redis_url(self) -> str:
        if self.ha is not None:
            return self.ha.redis_url
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def postgres_dir(self) -> Path:
        return Path(self.backing_dir) / "postgres"

    @property
    def redis_dir(self) -> Path:
        return Path(self.backing_dir) / "redis"

    def postgres_server(self) -> backing.PostgresServer:
        """The backing module's server on the planned port (used for initdb + bootstrap; the
        long-running postmaster is a supervisord program with the same data and settings)."""
        return backing.PostgresServer(self.postgres_dir, port=self.postgres_port)

    @property
    def database_url(self) -> str:
        if self.ha is not None:
            return self.ha.database_url
        return self.postgres_server().dsn

    def ports(self) -> set[int]:
        """Every port the deployment listens on."""
        found = {self.nginx_port} | {r.port for r in self.replicas}
        found |= set(self.ha.ports.values()) if self.ha else {self.postgres_port, self.redis_port}
        if self.monitoring is not None:
            found |= set(self.monitoring.ports.values())
        return found

    def replicas_of(self, service: str) -> list[PlannedReplica]:
        return [r for r in self.replicas if r.service == service]

    def replica(self, name: str) -> PlannedReplica:
        for r in self.replicas:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LocalPlan:
        values = dict(raw)
        values["replicas"] = tuple(PlannedReplica(**r) for r in raw["replicas"])
        values["ha"] = HaPlan.from_dict(raw["ha"]) if raw.get("ha") else None
        values["monitoring"] = (
            MonitoringPlan.from_dict(raw["monitoring"]) if raw.get("monitoring") else None
        )
        return cls(**values)


def make_plan(
    profile_name: str,
    *,
    backing_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    services: tuple[str, ...] = SERVICES,
    monitoring: bool | None = None,
    replicas: Mapping[str, int] | None = None,
) -> LocalPlan:
    """Replicas from the profile (zones round-robin; `replicas` overrides counts per service,
    e.g. the benchmark's one replica per service), only for services whose code exists; the
    profile's data stores (HA for prod) and monitoring (prod, or dev when `monitoring`)."""
    spec = profile(profile_name)
    if replicas:
        spec = replace(spec, replicas=MappingProxyType({**spec.replicas, **replicas}))
    wanted: list[ReplicaSpec] = [r for r in spec.replica_specs() if r.service in services]
    watched = spec.monitoring if monitoring is None else monitoring
    ha_count = len(MEMBERS) if spec.high_availability else 0
    postgres_nodes = len(PG_NODES) if spec.high_availability else 1
    monitor_count = len(port_names(postgres_nodes)) if watched else 0
    ports = free_ports(len(wanted) + 3 + ha_count + monitor_count)
    nginx_port, postgres_port, redis_port = ports[:3]
    replica_ports, rest = ports[3 : 3 + len(wanted)], ports[3 + len(wanted) :]
    ha = make_ha_plan(rest[:ha_count], backing_dir) if ha_count else None
    return LocalPlan(
        run_id=uuid.uuid4().hex[:12],
        profile=profile_name,
        replicas=tuple(
            PlannedReplica(r.service, r.index, r.zone, port)
            for r, port in zip(wanted, replica_ports, strict=True)
        ),
        nginx_port=nginx_port,
        postgres_port=ha.ports["pg-1"] if ha else postgres_port,
        redis_port=ha.ports["redis-1"] if ha else redis_port,
        backing_dir=str(backing_dir),
        # Per deployment: the prod profile refuses to start without one (no dev default).
        jwt_secret=secrets.token_urlsafe(48),
        extra_env=dict(extra_env or {}),
        ha=ha,
        monitoring=(
            make_monitoring_plan(
                rest[ha_count:],
                postgres_nodes=postgres_nodes,
                spec=profile_name,
                backing_dir=backing_dir,
            )
            if watched
            else None
        ),
    )


def service_environment(plan: LocalPlan) -> dict[str, str]:
    """TRIPGEN_* every service process (and the data init) gets; service-to-service calls go
    through nginx, like through the in-cluster Services."""
    env = {
        "TRIPGEN_PROFILE": plan.profile,
        "TRIPGEN_DATABASE_URL": plan.database_url,
        "TRIPGEN_REDIS_URL": plan.redis_url,
        "TRIPGEN_JWT_SECRET": plan.jwt_secret,
        "TRIPGEN_LOG_JSON": "true",
        **{f"TRIPGEN_{s.upper()}_URL": plan.base_url for s in SERVICES},
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.update(plan.extra_env)
    return env


def supervisord_environment(plan: LocalPlan) -> dict[str, str]:
    """supervisord's own environment, inherited by every program: the caller's, minus PG* and
    TRIPGEN_* (a deployment is defined by its plan, not by the shell it was typed in), plus the
    run mark."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PG", "TRIPGEN_", "VIRTUAL_ENV"))
    }
    # Replicas must be able to cache bytecode: ten processes compiling FastAPI and pydantic from
    # source on every start would triple the time to ready.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    env[RUN_ID_ENV] = plan.run_id
    return env


def _account_of(path: Path) -> str | None:
    """The owner of `path` when we are root (the backing module's service account), else None."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwuid(path.stat().st_uid).pw_name


def postgres_program(plan: LocalPlan, layout: LocalLayout) -> Program:
    binaries = backing.Binaries.from_env()
    settings = {
        **backing.TEST_POSTGRES_SETTINGS,
        "listen_addresses": "127.0.0.1",
        "port": str(plan.postgres_port),
        "unix_socket_directories": str(plan.postgres_dir),
    }
    command = [str(binaries.postgres), "-D", str(plan.postgres_dir / "data")]
    for key, value in settings.items():
        command += ["-c", f"{key}={value}"]
    return Program(
        name="postgresql",
        command=command,
        log_file=layout.log("postgresql"),
        directory=plan.postgres_dir,
        user=_account_of(plan.postgres_dir),
        autostart=False,  # started once initdb + bootstrap have finished
        stopsignal="INT",  # PostgreSQL's fast shutdown
        stopwaitsecs=30,
        stop_as_group=False,
        priority=10,
    )


def redis_program(plan: LocalPlan, layout: LocalLayout) -> Program:
    binaries = backing.Binaries.from_env()
    # The backing module's Redis flags: memory only, SPEC.md's dev maxmemory 512mb allkeys-lru.
    command = [
        str(binaries.redis_server),
        "--port", str(plan.redis_port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", str(plan.redis_dir),
        "--maxmemory", "512mb",
        "--maxmemory-policy", "allkeys-lru",
    ]  # fmt: skip
    return Program(
        name="redis",
        command=command,
        log_file=layout.log("redis"),
        directory=plan.redis_dir,
        user=_account_of(plan.redis_dir),
        priority=10,
    )


def nginx_program(binary: Path, layout: LocalLayout) -> Program:
    return Program(
        name="nginx",
        command=nginx.command(binary, layout.nginx),
        log_file=layout.log("nginx"),
        stopwaitsecs=10,
        priority=20,
    )


def replica_program(plan: LocalPlan, replica: PlannedReplica, layout: LocalLayout) -> Program:
    env = {
        **service_environment(plan),
        "TRIPGEN_HOST": "127.0.0.1",
        "TRIPGEN_PORT": str(replica.port),
        "TRIPGEN_ZONE": replica.zone,
        "TRIPGEN_REPLICA": replica.name,
    }
    return Program(
        name=replica.name,
        command=[sys.executable, "-m", f"services.{replica.service}"],
        log_file=layout.log(replica.name),
        environment=env,
        directory=REPO_ROOT,
        autostart=False,  # started after the schema exists
        autorestart=True,  # a killed replica comes back (chaos: kill_replica)
        startsecs=1,
        startretries=5,
        stopwaitsecs=5,
        priority=100,
    )


def scraped(plan: LocalPlan) -> Scraped:
    """What the deployment's Prometheus scrapes."""
    replicas = [(r.service, r.zone, r.name, r.port) for r in plan.replicas]
    if plan.ha is not None:
        ha = plan.ha
        return Scraped(
            replicas,
            [(n, ha.zone(n), ha.node_dsn(n, "postgres")) for n in PG_NODES],
            [(n, ha.zone(n), ha.ports[n]) for n in REDIS_NODES],
            ha.redis_password,
        )
    dsn = plan.postgres_server().dsn.rsplit("/", 1)[0] + "/postgres?sslmode=disable"
    return Scraped(
        replicas, [("postgresql", "zone-1", dsn)], [("redis", "zone-1", plan.redis_port)], None
    )


def programs(plan: LocalPlan, layout: LocalLayout, nginx_binary: Path) -> list[Program]:
    stores = (
        ha_programs(plan.ha, layout.log)
        if plan.ha is not None
        else [postgres_program(plan, layout), redis_program(plan, layout)]
    )
    watching = (
        monitoring_programs(plan.monitoring, scraped(plan), plan.run_id, layout.log)
        if plan.monitoring is not None
        else []
    )
    return [
        *stores,
        nginx_program(nginx_binary, layout),
        *watching,
        *(replica_program(plan, r, layout) for r in plan.replicas),
    ]

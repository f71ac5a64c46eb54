"""The one interface every place a profile runs on offers (DESIGN.md › Platforms).

The nox sessions, the load harness and the chaos providers only speak to `Platform`, so one
experiment runs on `local` and on `kind`. Implementations: `local` (supervised processes behind
nginx), `kind` (a multi-node kind cluster), `aks` (the real cluster; deploy only, gated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class PlatformError(RuntimeError):
    """A failure the user can act on; the CLI prints the message without a traceback."""


class NotDeployed(PlatformError):
    """The operation needs a running deployment and there is none."""


class Unsupported(PlatformError):
    """The platform does not offer this operation (e.g. chaos against production AKS)."""


@dataclass(frozen=True)
class Endpoints:
    """Where a deployment answers. `base_url` routes `/api/<service>/…` like the Ingress;
        `services` maps each service to the URL it is routed at (the same front door on every
        platform); `replicas` are direct replica URLs where the platform exposes them (local only);
        `dependencies` are the PostgreSQL DSN and Redis URL where reachable from the host (with
    failover: the multi-host DSN, and the current Redis primary — `redis-sentinels` names the
    Sentinels); `monitoring` where the deployment's Prometheus answers."""

    base_url: str
    services: dict[str, str]
    replicas: dict[str, list[str]] = field(default_factory=dict)
    dependencies: dict[str, str] = field(default_factory=dict)
    monitoring: dict[str, str] = field(default_factory=dict)  # e.g. {"prometheus": URL}


@dataclass(frozen=True)
class ReplicaStatus:
    service: str
    replica: str  # local replica name (`user-2`) or pod name
    zone: str
    pid: int | None  # local process id; None on Kubernetes
    state: str  # supervisor state (RUNNING, STARTING, STOPPED, …) or pod phase
    ready: bool


@dataclass(frozen=True)
class DependencyStatus:
    name: str  # postgresql | redis | nginx, or an HA member: pg-1, redis-2, sentinel-3, …
    address: str
    state: str
    pid: int | None = None
    role: str = ""  # primary | standby | replica | monitor | sentinel (HA members)
    zone: str = ""


@dataclass(frozen=True)
class DeploymentStatus:
    platform: str
    profile: str
    base_url: str
    replicas: list[ReplicaStatus]
    dependencies: list[DependencyStatus] = field(default_factory=list)
    monitoring: dict[str, str] = field(default_factory=dict)
    # Proportional set size of the deployment's processes by group, and "total" (local only).
    memory_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def all_ready(self) -> bool:
        return bool(self.replicas) and all(r.ready for r in self.replicas)


@dataclass(frozen=True)
class KilledReplica:
    """What `kill_replica` hit — chaos journals record it."""

    service: str
    replica: str
    zone: str
    pid: int | None
    at: float  # time.time() of the kill


@dataclass(frozen=True)
class KilledMember:
    """What `kill_primary` hit — the chaos journal records it."""

    dependency: str  # postgresql | redis
    member: str  # pg-1, redis-2, …
    zone: str
    pids: list[int]
    at: float  # time.time() of the kill


@runtime_checkable
class HighAvailability(Protocol):
    """Failover operations of a platform whose data stores have standbys (local prod-sim)."""

    def primaries(self) -> dict[str, str | None]:
        """The member each data store's primary is now (None while it fails over)."""
        ...

    def kill_primary(self, dependency: str) -> KilledMember:
        """Kill the primary's every process at once (a lost machine); it stays down."""
        ...

    def heal(self, dependency: str) -> list[str]:
        """Bring back every lost member of `dependency`; they rejoin as standby/replica."""
        ...


@runtime_checkable
class Platform(Protocol):
    """Operations every platform offers; implementations raise `PlatformError` on failure."""

    name: str

    def up(self, profile: str) -> None:
        """Bring up what the profile runs on (local: supervisor, PostgreSQL, Redis, nginx;
        kind: the cluster with zones, metrics-server, ingress-nginx)."""
        ...

    def deploy(self, profile: str) -> Endpoints:
        """Run the profile's services (calling `up` first when needed); return once every
        replica is ready."""
        ...

    def endpoints(self) -> Endpoints:
        """Where the running deployment answers (raises `NotDeployed`)."""
        ...

    def status(self) -> DeploymentStatus:
        """Every replica with its zone, pid or pod, state and readiness."""
        ...

    def kill_replica(self, service: str, replica: str | None = None) -> KilledReplica:
        """Kill one replica of `service` abruptly (SIGKILL / pod force-delete); the platform
        brings it back. `replica` picks one, else the first running one."""
        ...

    def zone_outage(self, zone: str) -> list[str]:
        """Take every replica in `zone` out of service; returns the replicas (or nodes) hit."""
        ...

    def restore(self, zone: str) -> list[str]:
        """Undo `zone_outage(zone)`; returns what was brought back."""
        ...

    def stop_dependency(self, name: str) -> None:
        """Stop `postgresql` or `redis` (the address is kept, so a restart is a recovery)."""
        ...

    def start_dependency(self, name: str) -> None:
        """Start a dependency stopped by `stop_dependency`."""
        ...

    def down(self) -> None:
        """Stop everything the deployment started; leaves no process and no listening port."""
        ...

"""A test double of `simulation.platforms.base.Platform`: replicas and dependencies in memory,
with the same observable behaviour the chaos providers rely on (a killed replica comes back
after `restart_after` status calls, a zone outage stops its replicas until restored)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from simulation.platforms.base import (
    DependencyStatus,
    DeploymentStatus,
    Endpoints,
    KilledReplica,
    PlatformError,
    ReplicaStatus,
)


@dataclass
class FakeReplica:
    service: str
    name: str
    zone: str
    pid: int
    ready: bool = True
    down_for: int = 0  # status calls until a killed replica is back


@dataclass
class FakePlatform:
    name: str = "local"
    restart_after: int = 2
    replicas: list[FakeReplica] = field(default_factory=list)
    dependencies: dict[str, str] = field(
        default_factory=lambda: {"postgresql": "RUNNING", "redis": "RUNNING"}
    )
    calls: list[str] = field(default_factory=list)
    next_pid: int = 1000

    def __post_init__(self) -> None:
        if not self.replicas:
            for service, count in (("user", 3), ("trip", 3), ("ai", 2), ("location", 2)):
                for i in range(count):
                    self.replicas.append(
                        FakeReplica(service, f"{service}-{i + 1}", f"zone-{i % 3 + 1}", self._pid())
                    )

    def _pid(self) -> int:
        self.next_pid += 1
        return self.next_pid

    def up(self, profile: str) -> None:
        self.calls.append(f"up {profile}")

    def deploy(self, profile: str) -> Endpoints:
        self.calls.append(f"deploy {profile}")
        return self.endpoints()

    def endpoints(self) -> Endpoints:
        return Endpoints(base_url="http://127.0.0.1:9", services={})

    def status(self) -> DeploymentStatus:
        for r in self.replicas:
            if r.down_for > 0:
                r.down_for -= 1
                if r.down_for == 0:
                    r.ready, r.pid = True, self._pid()
        return DeploymentStatus(
            self.name,
            "prod",
            "http://127.0.0.1:9",
            [
                ReplicaStatus(r.service, r.name, r.zone, r.pid, "RUNNING", r.ready)
                for r in self.replicas
            ],
            [DependencyStatus(n, "127.0.0.1:0", s) for n, s in self.dependencies.items()],
        )

    def kill_replica(self, service: str, replica: str | None = None) -> KilledReplica:
        self.calls.append(f"kill {service}")
        for r in self.replicas:
            if r.service == service and r.ready and (replica is None or r.name == replica):
                r.ready, r.down_for = False, self.restart_after
                return KilledReplica(service, r.name, r.zone, r.pid, time.time())
        raise PlatformError(f"no running replica of {service}")

    def zone_outage(self, zone: str) -> list[str]:
        self.calls.append(f"zone_outage {zone}")
        hit = [r for r in self.replicas if r.zone == zone]
        for r in hit:
            r.ready = False
        return [r.name for r in hit]

    def restore(self, zone: str) -> list[str]:
        self.calls.append(f"restore {zone}")
        back = [r for r in self.replicas if r.zone == zone]
        for r in back:
            r.ready, r.pid = True, self._pid()
        return [r.name for r in back]

    def stop_dependency(self, name: str) -> None:
        self.calls.append(f"stop {name}")
        self.dependencies[name] = "STOPPED"

    def start_dependency(self, name: str) -> None:
        self.calls.append(f"start {name}")
        self.dependencies[name] = "RUNNING"

    def down(self) -> None:
        self.calls.append("down")

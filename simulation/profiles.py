"""Deployment profiles: how many replicas of each service run, and in which zone each one sits.

Replica counts are SPEC.md › Compute › Per-service resources: `prod` follows the prod v2 column
(`001`: user 3, trip 3, ai 2, location 2), `dev` is the dev column (`004`: 1 each). Replicas of a
service are spread over the zones round-robin (replica 1 → zone-1, 2 → zone-2, …), the way a
topology spread constraint places pods over three availability zones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

SERVICES: Final = ("user", "trip", "ai", "location")

# The URL prefix each service owns; nginx (local) and the chart's Ingress route it to the service.
SERVICE_PATHS: Final = MappingProxyType(
    {"user": "/api/users", "trip": "/api/trips", "ai": "/api/ai", "location": "/api/locations"}
)

# The zone labels of local replicas. kind and AKS name the same zones `koreacentral-N`
# (simulation.k8s.topology.ZONES); `zone_index` accepts either spelling.
LOCAL_ZONES: Final = ("zone-1", "zone-2", "zone-3")

REPLICAS: Final = MappingProxyType(
    {
        # SPEC.md › Per-service resources, dev (004): 1 replica each.
        "dev": MappingProxyType({"user": 1, "trip": 1, "ai": 1, "location": 1}),
        # SPEC.md › Per-service resources, prod v2 (001): user 3, trip 3, ai 2, location 2.
        "prod": MappingProxyType({"user": 3, "trip": 3, "ai": 2, "location": 2}),
    }
)

DEPENDENCIES: Final = ("postgresql", "redis")


class UnknownProfile(ValueError):
    """A profile, service, zone or dependency name the harness does not know."""


@dataclass(frozen=True)
class ReplicaSpec:
    """One replica of a service: `user-2` is the second user-service replica, in zone-2."""

    service: str
    index: int  # 1-based
    zone: str

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"


# Production's failure modes (PostgreSQL and Redis failover, backups) and its monitoring are part
# of the prod simulation; dev stays light (one PostgreSQL, one Redis, Prometheus only on request).
HIGH_AVAILABILITY: Final = frozenset({"prod"})
MONITORED: Final = frozenset({"prod"})


@dataclass(frozen=True)
class Profile:
    name: str
    replicas: MappingProxyType[str, int]

    @property
    def high_availability(self) -> bool:
        return self.name in HIGH_AVAILABILITY

    @property
    def monitoring(self) -> bool:
        return self.name in MONITORED

    def replica_specs(self, zones: tuple[str, ...] = LOCAL_ZONES) -> list[ReplicaSpec]:
        """Every replica of every service, zones assigned round-robin per service."""
        return [
            ReplicaSpec(service, i + 1, zones[i % len(zones)])
            for service in SERVICES
            for i in range(self.replicas[service])
        ]

    @property
    def total_replicas(self) -> int:
        return sum(self.replicas.values())


def profile(name: str) -> Profile:
    """The profile called `name` (`dev` or `prod`)."""
    try:
        return Profile(name, REPLICAS[name])
    except KeyError:
        raise UnknownProfile(
            f"unknown profile {name!r}; choose one of: {', '.join(REPLICAS)}"
        ) from None


def check_service(service: str) -> str:
    if service not in SERVICES:
        raise UnknownProfile(f"unknown service {service!r}; choose one of: {', '.join(SERVICES)}")
    return service


def check_dependency(name: str) -> str:
    aliases = {"postgres": "postgresql", "pg": "postgresql"}
    name = aliases.get(name, name)
    if name not in DEPENDENCIES:
        raise UnknownProfile(
            f"unknown dependency {name!r}; choose one of: {', '.join(DEPENDENCIES)}"
        )
    return name


_ZONE = re.compile(r"^(?:zone-|[a-z]+-)?([1-3])$")


def zone_index(zone: str) -> int:
    """1, 2 or 3 from `zone-2`, `koreacentral-2` or `2` (experiments name zones either way)."""
    match = _ZONE.match(zone.strip().lower())
    if not match:
        raise UnknownProfile(
            f"unknown zone {zone!r}; use zone-1..3 (local) or koreacentral-1..3 (kind, AKS)"
        )
    return int(match.group(1))


def local_zone(zone: str) -> str:
    """The local platform's label for `zone` in any accepted spelling."""
    return LOCAL_ZONES[zone_index(zone) - 1]

"""A rollout decided before it runs (pure: no process is started, no file written): its steps,
the traffic split of each, and which replicas serve each service before and after.

    canary       shift 10% → 50% → 100% to the new version, a pause and a judgement per step
    blue-green   green up in full and checked, then 100% at once (a judged pause after);
                 blue kept running for a fast switch back (`--switch-back`)

Which replicas serve a service is recorded in the deployment's state (`details["rollout"]`):
the deployment's own replicas until a rollout replaces them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulation.platforms.local_tracks import Split, TrackReplica, replica_from_dict

STRATEGIES = ("canary", "blue-green")
CANARY_PERCENTS = (10, 50, 100)
STABLE = "stable"
STANDBY = "standby"
NEW_TRACK = {"canary": "canary", "blue-green": "green"}


class RolloutInputError(ValueError):
    """A rollout cannot be planned as asked (the message says why)."""


@dataclass(frozen=True)
class Step:
    """Send `percent` of the services' requests to the new version, then judge for `pause_s`."""

    percent: int
    pause_s: float

    @property
    def label(self) -> str:
        return f"{self.percent}%"


def steps(strategy: str, pause_s: float) -> list[Step]:
    if strategy == "canary":
        return [Step(p, pause_s) for p in CANARY_PERCENTS]
    if strategy == "blue-green":
        return [Step(100, pause_s)]
    raise RolloutInputError(
        f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}"
    )


def split(services: Sequence[str], track: str, percent: int, *, other: str = STABLE) -> Split:
    """`percent` of each service to `track`, the rest to `other`."""
    return Split({s: {other: 100 - percent, track: percent} for s in services})


@dataclass
class Releases:
    """Per rolled-out service, the replicas serving it and (after blue-green) the ones kept in
    standby; `revision` numbers the rollouts of this deployment (program names use it)."""

    serving: list[TrackReplica] = field(default_factory=list)
    standby: list[TrackReplica] = field(default_factory=list)
    revision: int = 0

    def serving_of(self, service: str) -> list[TrackReplica]:
        return [r for r in self.serving if r.service == service]

    def standby_of(self, service: str) -> list[TrackReplica]:
        return [r for r in self.standby if r.service == service]

    def to_dict(self) -> dict[str, Any]:
        return {
            "serving": [_replica_dict(r) for r in self.serving],
            "standby": [_replica_dict(r) for r in self.standby],
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Releases:
        if not raw:
            return cls()
        return cls(
            [replica_from_dict(r) for r in raw.get("serving", [])],
            [replica_from_dict(r) for r in raw.get("standby", [])],
            int(raw.get("revision", 0)),
        )


def _replica_dict(r: TrackReplica) -> dict[str, Any]:
    return {
        "service": r.service, "index": r.index, "zone": r.zone, "port": r.port,
        "track": r.track, "version": r.version, "program": r.name,
    }  # fmt: skip


def as_track(replicas: Sequence[TrackReplica], track: str) -> list[TrackReplica]:
    return [
        TrackReplica(r.service, r.index, r.zone, r.port, track, r.version, r.name) for r in replicas
    ]


def new_replicas(
    stable: Sequence[TrackReplica], track: str, version: str, revision: int, ports: Sequence[int]
) -> list[TrackReplica]:
    """One new replica per stable one (same service, index and zone), named by revision."""
    return [
        TrackReplica(
            r.service, r.index, r.zone, port, track, version, f"{r.service}-r{revision}-{r.index}"
        )
        for r, port in zip(stable, ports, strict=True)
    ]


def check_services(requested: str, deployed: Sequence[str]) -> list[str]:
    """`all` or one service name, which must be deployed."""
    if requested == "all":
        return list(deployed)
    if requested not in deployed:
        raise RolloutInputError(
            f"--service {requested!r}: the deployment runs {', '.join(deployed)} (or use all)"
        )
    return [requested]

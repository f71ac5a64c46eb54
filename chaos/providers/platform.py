"""Actions on the deployment through the platform interface (`simulation.platforms`), each
recorded as a chaos event: kill a replica, take a zone out and restore it, stop and start a
dependency. The same calls work on `local` (supervised processes) and `kind` (kubectl through
the harness's own kind context).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaos.context import Configuration, context_from
from chaos.events import now, open_event, start_event, update_event
from simulation.platforms.base import HighAvailability, Platform, PlatformError


def ready_replicas(configuration: Configuration | None, service: str) -> int:
    status = context_from(configuration).open_platform().status()
    return sum(1 for r in status.replicas if r.service == service and r.ready)


def kill_replica(service: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """SIGKILL one replica of `service` (local; on kind a force-deleted pod). The event ends at
    once (a kill is instantaneous); `recovery.wait_replica_back` records its recovery."""
    context = context_from(configuration)
    platform = context.open_platform()
    ready_before = ready_replicas(configuration, service)
    killed = platform.kill_replica(service)
    details = {
        "service": service,
        "replica": killed.replica,
        "zone": killed.zone,
        "pid": killed.pid,
        "ready_before": ready_before,
        "platform": context.platform,
    }
    name = f"kill-replica/{service}"
    start_event(context.run_dir, name, details)
    update_event(context.run_dir, name, ended_at=now())
    return details


PRIMARIES = "primaries"  # the zone of the PostgreSQL primary, whichever that is now


def _primaries(platform: Platform) -> dict[str, str | None]:
    if not isinstance(platform, HighAvailability):
        return {}
    with contextlib.suppress(PlatformError):
        return platform.primaries()
    return {}


def _resolve_zone(zone: str, platform: Platform) -> str:
    """`primaries` → the zone the PostgreSQL primary is in now (local prod-sim), so an outage
    of it fails both data stores over; any other zone as given."""
    if zone != PRIMARIES:
        return zone
    member = _primaries(platform).get("postgresql")
    for dependency in platform.status().dependencies:
        if dependency.name == member and dependency.zone:
            return dependency.zone
    raise ActivityFailed("zone 'primaries' needs data stores with a primary (prod-sim)")


def _outage_zone(run_dir: Path, zone: str) -> str:
    """The zone an outage named `zone` actually took out (recorded when it was injected)."""
    if zone != PRIMARIES:
        return zone
    with contextlib.suppress(LookupError):
        return str(open_event(run_dir, f"zone-outage/{zone}").details["zone"])
    raise ActivityFailed("no outage of the primaries' zone is open")


def zone_outage(zone: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Take every replica in `zone` out of service (local: stop its processes) and, with data
    stores that fail over, the zone's members too. `zone: primaries` picks the zone of the
    PostgreSQL primary. The event records what was primary before."""
    context = context_from(configuration)
    platform = context.open_platform()
    actual = _resolve_zone(zone, platform)
    before = _primaries(platform)
    event = start_event(
        context.run_dir, f"zone-outage/{zone}", {"zone": actual, "primaries_before": before}
    )
    members = {d.name: d.zone for d in platform.status().dependencies}
    # A primary in the lost zone is a failover too, judged by its own target (SPEC.md: PG
    # < 30 s, Redis < 60 s): an event each, opened as the zone goes (its members are killed
    # first), recovered by the failover probes.
    lost = {dep: m for dep, m in before.items() if m and members.get(m) == actual}
    for dependency, member in lost.items():
        start_event(
            context.run_dir,
            f"{dependency}-failover",
            {"member": member, "zone": actual, "cause": event.name},
        )
    hit = platform.zone_outage(actual)
    for dependency in lost:
        update_event(context.run_dir, f"{dependency}-failover", ended_at=now())
    update_event(context.run_dir, event.name, details={"hit": hit})
    return {"zone": actual, "hit": hit, "primaries_before": before, "failing_over": lost}


def restore_zone(zone: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Bring the zone back; the platform returns once its replicas are ready again (and its
    data-store members have rejoined), which is when the steady state holds again. Records
    what moved where: the primaries before the outage and after it."""
    context = context_from(configuration)
    name = f"zone-outage/{zone}"
    actual = _outage_zone(context.run_dir, zone)
    update_event(context.run_dir, name, ended_at=now())
    platform = context.open_platform()
    restored = platform.restore(actual)
    after = _primaries(platform)
    before = open_event(context.run_dir, name).details.get("primaries_before", {})
    moved = {dep: f"{before.get(dep)} → {after.get(dep)}" for dep in after}
    update_event(
        context.run_dir,
        name,
        recovered_at=now(),
        details={"restored": restored, "primaries_after": after, "moved": moved},
    )
    return {"zone": actual, "restored": restored, "moved": moved}


def stop_dependency(
    name: str, event: str = "", configuration: Configuration | None = None
) -> dict[str, Any]:
    """Stop `postgresql` or `redis`; opens event `event` (default `<name>-outage`)."""
    context = context_from(configuration)
    event_name = event or f"{name}-outage"
    start_event(context.run_dir, event_name, {"dependency": name})
    context.open_platform().stop_dependency(name)
    update_event(context.run_dir, event_name, details={"stopped_at": now().isoformat()})
    return {"dependency": name, "event": event_name}


def start_dependency(
    name: str, event: str = "", configuration: Configuration | None = None
) -> dict[str, Any]:
    """Start the dependency again; the event ends when it accepts connections (the platform
    waits for that). Recovery — the services answering again — is a probe's to record."""
    context = context_from(configuration)
    event_name = event or f"{name}-outage"
    context.open_platform().start_dependency(name)
    update_event(context.run_dir, event_name, ended_at=now())
    return {"dependency": name, "event": event_name}


# -- rollbacks: put things back whatever the method got to, and do nothing when they are --------


def ensure_dependency_running(
    name: str, event: str = "", configuration: Configuration | None = None
) -> dict[str, Any]:
    """Rollback: start the dependency unless it is running (the method normally did)."""
    context = context_from(configuration)
    platform = context.open_platform()
    states = {d.name: d.state for d in platform.status().dependencies}
    if states.get(name) == "RUNNING":
        return {"dependency": name, "action": "none: already running"}
    platform.start_dependency(name)
    event_name = event or f"{name}-outage"
    with contextlib.suppress(LookupError):  # the method failed before it injected anything
        update_event(context.run_dir, event_name, ended_at=now())
    return {"dependency": name, "action": "started"}


def ensure_zone_restored(zone: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Rollback: restore the zone unless its replicas (and data-store members) all run."""
    context = context_from(configuration)
    platform = context.open_platform()
    actual = zone
    with contextlib.suppress(ActivityFailed):  # nothing open: the outage never began
        actual = _outage_zone(context.run_dir, zone)
    if actual == PRIMARIES:
        return {"zone": zone, "action": "none: no outage was injected"}
    status = platform.status()
    label = status_zone_label(actual, [r.zone for r in status.replicas])
    down = [r.replica for r in status.replicas if r.zone == label and not r.ready]
    down += [d.name for d in status.dependencies if d.zone == label and d.state != "RUNNING"]
    if not down:
        return {"zone": actual, "action": "none: everything in it runs"}
    restored = platform.restore(actual)
    with contextlib.suppress(LookupError):
        update_event(context.run_dir, f"zone-outage/{zone}", ended_at=now())
    return {"zone": actual, "action": "restored", "restored": restored}


def status_zone_label(zone: str, labels: list[str]) -> str:
    """The spelling the platform's status uses for `zone` (`zone-2` locally, `koreacentral-2`
    on Kubernetes): the label ending in the same zone number."""
    number = zone.rsplit("-", 1)[-1]
    for label in labels:
        if label.rsplit("-", 1)[-1] == number:
            return label
    return zone

"""Actions on the deployment through the platform interface (`simulation.platforms`), each
recorded as a chaos event: kill a replica, take a zone out and restore it, stop and start a
dependency. The same calls work on `local` (supervised processes) and `kind` (kubectl), so
experiments use them wherever the platform has no chaostoolkit-kubernetes equivalent.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chaos.context import Configuration, context_from
from chaos.events import now, start_event, update_event


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


def zone_outage(zone: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Take every replica in `zone` out of service (local: stop its processes)."""
    context = context_from(configuration)
    event = start_event(context.run_dir, f"zone-outage/{zone}", {"zone": zone})
    hit = context.open_platform().zone_outage(zone)
    update_event(context.run_dir, event.name, details={"hit": hit})
    return {"zone": zone, "hit": hit}


def restore_zone(zone: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Bring the zone back; the platform returns once its replicas are ready again, which is
    when the steady state (every replica serving) holds again."""
    context = context_from(configuration)
    name = f"zone-outage/{zone}"
    update_event(context.run_dir, name, ended_at=now())
    restored = context.open_platform().restore(zone)
    update_event(context.run_dir, name, recovered_at=now(), details={"restored": restored})
    return {"zone": zone, "restored": restored}


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
    """Rollback: restore the zone unless its replicas are all running again."""
    context = context_from(configuration)
    platform = context.open_platform()
    status = platform.status()
    label = status_zone_label(zone, [r.zone for r in status.replicas])
    down = [r.replica for r in status.replicas if r.zone == label and not r.ready]
    if not down:
        return {"zone": zone, "action": "none: every replica is ready"}
    restored = platform.restore(zone)
    with contextlib.suppress(LookupError):
        update_event(context.run_dir, f"zone-outage/{zone}", ended_at=now())
    return {"zone": zone, "action": "restored", "restored": restored}


def status_zone_label(zone: str, labels: list[str]) -> str:
    """The spelling the platform's status uses for `zone` (`zone-2` locally, `koreacentral-2`
    on Kubernetes): the label ending in the same zone number."""
    number = zone.rsplit("-", 1)[-1]
    for label in labels:
        if label.rsplit("-", 1)[-1] == number:
            return label
    return zone

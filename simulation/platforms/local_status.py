"""What a local deployment reports about itself beyond its replicas: the data stores (each HA
member with its role and zone), where its Prometheus answers, its addresses for the harness, and
how much memory the whole deployment takes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import redis

from simulation.backing.processes import process_trees
from simulation.platforms import local_ha, procfs
from simulation.platforms.base import DependencyStatus, Endpoints
from simulation.platforms.local_plan import LocalPlan
from simulation.platforms.supervisor import ProcessInfo


def _program(info: Mapping[str, ProcessInfo], name: str) -> tuple[str, int | None]:
    proc = info.get(name)
    return (proc.state, proc.pid) if proc else ("UNKNOWN", None)


def dependency_statuses(plan: LocalPlan, info: Mapping[str, ProcessInfo]) -> list[DependencyStatus]:
    """PostgreSQL, Redis (every member, with role and zone, when they fail over), nginx and the
    monitoring programs."""
    found: list[DependencyStatus] = []
    if plan.ha is None:
        addresses = {
            "postgresql": f"127.0.0.1:{plan.postgres_port}",
            "redis": f"127.0.0.1:{plan.redis_port}",
        }
        for name, address in addresses.items():
            found.append(DependencyStatus(name, address, *_program(info, name), zone="zone-1"))
    else:
        roles = local_ha.roles(plan.ha)
        for member in local_ha.MEMBERS:
            state, pid = _program(info, member)
            found.append(
                DependencyStatus(
                    member,
                    f"127.0.0.1:{plan.ha.ports[member]}",
                    state,
                    pid,
                    role=local_ha.role_of(member, roles) if state == "RUNNING" else "lost",
                    zone=plan.ha.zone(member),
                )
            )
    found.append(DependencyStatus("nginx", plan.base_url, *_program(info, "nginx")))
    if plan.monitoring is not None:
        for name in plan.monitoring.programs:
            found.append(
                DependencyStatus(
                    name, f"127.0.0.1:{plan.monitoring.ports[name]}", *_program(info, name)
                )
            )
    return found


def _group(name: str, monitoring: list[str]) -> str:
    if name in monitoring:
        return "monitoring"
    if name.startswith(("pg-", "postgresql")):
        return "postgresql"
    if name.startswith(("redis", "sentinel")):
        return "redis"
    if name == "nginx":
        return "nginx"
    return "replicas"


def _tmpfs_bytes(path: Path) -> int:
    """Bytes of files under `path` when it lives on /dev/shm (tmpfs data is memory too).
    Directory entries carry their type, so a file costs one stat (PostgreSQL's data
    directories hold thousands of files and the usage meter asks at every run's ends)."""
    if not str(path).startswith("/dev/shm"):
        return 0
    total = 0
    pending = [str(path)]
    while pending:
        with contextlib.suppress(OSError), os.scandir(pending.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
    return total


def memory_by_group(
    plan: LocalPlan, info: Mapping[str, ProcessInfo], mark_env: str
) -> dict[str, int]:
    """Proportional set size per group of programs (replicas, postgresql, redis, monitoring,
    nginx), the rest of the deployment's marked processes (supervisord), the data stores' files
    when they live on tmpfs, and `total`."""
    groups: dict[str, int] = {}
    counted: set[int] = set()
    trees = process_trees(proc.pid for proc in info.values() if proc.pid)
    for name, proc in info.items():
        if not proc.pid:
            continue
        pids = [p for p in trees[proc.pid] if p not in counted]
        counted.update(pids)
        group = _group(name, plan.monitoring.programs if plan.monitoring else [])
        groups[group] = groups.get(group, 0) + sum(procfs.pss_bytes(p) for p in pids)
    rest = [p for p in procfs.pids_with_env(mark_env, plan.run_id) if p not in counted]
    groups["supervisord and helpers"] = sum(procfs.pss_bytes(p) for p in rest)
    groups["data on tmpfs"] = _tmpfs_bytes(Path(plan.backing_dir))
    groups["total"] = sum(groups.values())
    return groups


def endpoints(plan: LocalPlan) -> Endpoints:
    """The harness's addresses: with failover, the multi-host PostgreSQL DSN and the Redis node
    that is primary now (`redis-sentinels`: the Sentinel URL the services use)."""
    dependencies = {"postgresql": plan.database_url, "redis": plan.redis_url}
    if plan.ha is not None:
        dependencies["redis-sentinels"] = plan.ha.redis_url
        with contextlib.suppress(redis.RedisError):
            primary = local_ha.roles(plan.ha).redis
            if primary is not None:
                dependencies["redis"] = plan.ha.redis_node_url(plan.ha.ports[primary])
    monitoring = {"prometheus": plan.monitoring.prometheus_url} if plan.monitoring else {}
    return Endpoints(
        base_url=plan.base_url,
        services={s: plan.base_url for s in plan.services},
        replicas={s: [r.url for r in plan.replicas_of(s)] for s in plan.services},
        dependencies=dependencies,
        monitoring=monitoring,
    )

"""Failover of the data stores (prod-sim: `simulation.platforms.base.HighAvailability`): kill the
primary of PostgreSQL or Redis under load, measure how long until writes succeed again and where
the primary went, count the acknowledged writes that were lost, bring the lost member back.

    kill_primary(dependency)           event `<dependency>-failover`, the primary's every process
                                       killed at once; it stays down (a lost machine)
    wait_writes_recovered(dependency)  recovery = the first of `consecutive` successful writes:
                                       PostgreSQL through the front door (POST /api/trips), Redis
                                       through its Sentinels (what every Sentinel-aware client sees)
    wait_new_primary(dependency)       the member promoted and how long the promotion took
    redis_writes / redis_writes_accounted   numbered SETs during the failover vs what is there
    heal(dependency)                   the lost member back as standby/replica
"""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import redis
from chaoslib.exceptions import ActivityFailed
from pydantic import AwareDatetime, BaseModel
from redis.sentinel import Sentinel

from chaos.accounts import pool
from chaos.context import Configuration, context_from
from chaos.events import (
    EventNotFound,
    current_experiment,
    experiment_started_at,
    now,
    open_event,
    start_event,
    update_event,
)
from chaos.providers.recovery import record_recovery, recovery_result, wait_until
from runs.jsonl import append_jsonl, read_jsonl
from services.kit.redis_client import parse_sentinel_url
from simulation.platforms.base import HighAvailability, PlatformError

REDIS_WRITES_FILE = "redis_writes.jsonl"
REDIS_KEY_PREFIX = "chaos:failover:"


def _platform(configuration: Configuration | None) -> HighAvailability:
    platform = context_from(configuration).open_platform()
    if not isinstance(platform, HighAvailability):
        raise ActivityFailed(f"the {platform.name} platform offers no failover to exercise")
    return platform


def kill_primary(dependency: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Kill the current primary of `dependency` (`postgresql` or `redis`)."""
    context = context_from(configuration)
    platform = _platform(configuration)
    try:
        killed = platform.kill_primary(dependency)
    except PlatformError as exc:
        raise ActivityFailed(f"could not kill the {dependency} primary: {exc}") from exc
    details = {
        "dependency": dependency,
        "member": killed.member,
        "zone": killed.zone,
        "pids": killed.pids,
    }
    name = f"{dependency}-failover"
    start_event(context.run_dir, name, details)
    update_event(context.run_dir, name, ended_at=now())  # a kill is instantaneous
    return details


def _trip_body(title: str) -> dict[str, Any]:
    start = date.today() + timedelta(days=40)
    return {
        "title": title,
        "destination_city": "Seoul",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=1)).isoformat(),
    }


def _sentinel(configuration: Configuration | None) -> tuple[Sentinel, str, str | None]:
    url = (
        context_from(configuration).open_platform().endpoints().dependencies.get("redis-sentinels")
    )
    if not url:
        raise ActivityFailed("the deployment names no Redis Sentinels")
    addresses, master, _, password = parse_sentinel_url(url)
    sentinel = Sentinel(
        addresses, socket_timeout=0.5, socket_connect_timeout=0.5, password=password
    )
    return sentinel, master, password


def _writer(dependency: str, configuration: Configuration | None) -> Any:
    """One write attempt → True when it was acknowledged."""
    context = context_from(configuration)
    if dependency == "redis":
        sentinel, master, _ = _sentinel(configuration)
        client = sentinel.master_for(master, socket_timeout=0.5)
        tag = uuid.uuid4().hex[:6]

        def write_redis(number: int) -> bool:
            try:
                return bool(client.set(f"{REDIS_KEY_PREFIX}probe:{tag}:{number}", number, ex=600))
            except (redis.RedisError, OSError):
                return False

        return write_redis
    accounts = pool(
        context.base_url, context.run_dir, f"probe-{current_experiment(context.run_dir)}"
    )
    http = httpx.Client(base_url=context.base_url, timeout=5.0)

    def write_trip(number: int) -> bool:
        try:
            response = http.post(
                "/api/trips",
                json=_trip_body(f"chaos-failover probe #{number}"),
                headers=accounts.take().headers,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 201

    return write_trip


def wait_writes_recovered(
    dependency: str,
    timeout_s: float = 120.0,
    consecutive: int = 3,
    interval_s: float = 0.25,
    configuration: Configuration | None = None,
) -> dict[str, Any]:
    """Write until `consecutive` writes in a row succeed; the failover event recovered when the
    first of them was made. Returns the recovery and the writes that failed meanwhile."""
    context = context_from(configuration)
    event = f"{dependency}-failover"
    try:
        opened = open_event(context.run_dir, event)
    except EventNotFound:
        return {"event": event, "skipped": f"no {dependency} primary was lost"}
    write = _writer(dependency, configuration)
    streak: list[datetime] = []
    failed = attempts = 0

    def writing() -> bool:
        nonlocal failed, attempts
        attempts += 1
        began = now()
        if write(attempts):
            streak.append(began)
        else:
            failed += 1
            streak.clear()
        time.sleep(interval_s)
        return len(streak) >= consecutive

    recovered = streak[0] if wait_until(writing, timeout_s) is not None else None
    if recovered is not None:
        record_recovery(context.run_dir, event, recovered)
    return {
        **recovery_result(event, opened.started_at, recovered),
        "probe_writes": attempts,
        "probe_writes_failed": failed,
    }


def wait_new_primary(
    dependency: str, timeout_s: float = 120.0, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Wait until a member other than the killed one is the primary; how long it took."""
    context = context_from(configuration)
    platform = _platform(configuration)
    event = f"{dependency}-failover"
    try:
        opened = open_event(context.run_dir, event)
    except EventNotFound:
        return {"dependency": dependency, "skipped": f"no {dependency} primary was lost"}
    lost = opened.details.get("member")
    promoted: dict[str, str | None] = {}

    def moved() -> bool:
        with contextlib.suppress(PlatformError, redis.RedisError):
            promoted["member"] = platform.primaries().get(dependency)
        return promoted.get("member") not in (None, lost)

    at = wait_until(moved, timeout_s)
    seconds = (at - opened.started_at).total_seconds() if at else None
    details = {"promoted": promoted.get("member"), "promotion_s": seconds}
    update_event(context.run_dir, event, details=details)
    return {"dependency": dependency, "lost": lost, **details}


def heal(dependency: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Bring the lost members of `dependency` back; they rejoin as standby/replica."""
    platform = _platform(configuration)
    try:
        back = platform.heal(dependency)
    except PlatformError as exc:
        raise ActivityFailed(f"could not bring {dependency} members back: {exc}") from exc
    return {"dependency": dependency, "rejoined": back, "primaries": platform.primaries()}


def ensure_healed(dependency: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Rollback: bring lost members back (nothing to do when none is lost)."""
    return heal(dependency, configuration)


# -- acknowledged Redis writes during a failover ---------------------------------------------


class RedisWrite(BaseModel):
    timestamp: AwareDatetime
    key: str
    acknowledged: bool


def redis_writes(
    duration_s: float = 15.0, interval_s: float = 0.02, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Numbered SETs through the Sentinels for `duration_s`, each outcome recorded."""
    context = context_from(configuration)
    sentinel, master, _ = _sentinel(configuration)
    client = sentinel.master_for(master, socket_timeout=0.5, socket_connect_timeout=0.5)
    out = context.run_dir / REDIS_WRITES_FILE
    tag = uuid.uuid4().hex[:8]
    deadline = time.monotonic() + duration_s
    number = acknowledged = 0
    while time.monotonic() < deadline:
        number += 1
        key = f"{REDIS_KEY_PREFIX}{tag}:{number}"
        stamp = now()
        try:
            ok = bool(client.set(key, number, ex=3600))
        except (redis.RedisError, OSError):
            ok = False
        acknowledged += ok
        append_jsonl(out, RedisWrite(timestamp=stamp, key=key, acknowledged=ok))
        time.sleep(interval_s)
    return {"writes": number, "acknowledged": acknowledged}


def redis_writes_accounted(configuration: Configuration | None = None) -> dict[str, Any]:
    """Acknowledged SETs of this experiment that the current primary does not have."""
    context = context_from(configuration)
    since = experiment_started_at(context.run_dir)
    writes = [
        w for w in read_jsonl(context.run_dir / REDIS_WRITES_FILE, RedisWrite)
        if w.timestamp >= since
    ]  # fmt: skip
    acknowledged = [w.key for w in writes if w.acknowledged]
    if not acknowledged:
        return {"writes": len(writes), "acknowledged": 0, "acknowledged_lost": 0}
    sentinel, master, _ = _sentinel(configuration)
    client = sentinel.master_for(master, socket_timeout=2.0)
    present = client.mget(acknowledged)
    lost = [key for key, value in zip(acknowledged, present, strict=True) if value is None]
    return {
        "writes": len(writes),
        "acknowledged": len(acknowledged),
        "failed": len(writes) - len(acknowledged),
        "acknowledged_lost": len(lost),
        "lost_keys": lost[:10],
    }

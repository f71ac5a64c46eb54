"""The cache during a Redis outage: hit ratios per window from the replicas' Prometheus counters
(`cache_hits_total{layer}`, `cache_misses_total`, `cache_errors_total`), and the wait for every
replica to report Redis UP again (`/actuator/health` → components.redis).

Replica URLs are known on the local platform only (on Kubernetes the pods are not reachable
from the host): there the snapshot says so and the recovery falls back to the front door."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from chaos.context import Configuration, context_from
from chaos.events import EventNotFound, open_event, update_event
from chaos.providers.recovery import record_recovery, recovery_result, wait_serving, wait_until

SNAPSHOTS_FILE = "chaos_cache_snapshots.json"


def read_counters(replica_urls: list[str], timeout_s: float = 2.0) -> dict[str, float]:
    """Summed cache counters of the replicas: hits per layer, misses, L2 errors."""
    totals: dict[str, float] = {"hits_l1": 0.0, "hits_l2": 0.0, "misses": 0.0, "l2_errors": 0.0}
    with httpx.Client(timeout=timeout_s) as client:
        for url in replica_urls:
            try:
                text = client.get(f"{url}/metrics").text
            except httpx.HTTPError:
                continue  # a replica being restarted: its counters start from zero anyway
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "cache_hits_total":
                        layer = sample.labels.get("layer", "l1").lower()
                        key = "hits_l2" if "2" in layer or layer == "redis" else "hits_l1"
                        totals[key] += sample.value
                    elif sample.name == "cache_misses_total":
                        totals["misses"] += sample.value
                    elif sample.name == "cache_errors_total":
                        totals["l2_errors"] += sample.value
    return totals


def hit_ratios(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    """Hit ratio (all layers) and L2 hit ratio over the window between two snapshots."""
    delta = {k: max(0.0, after[k] - before.get(k, 0.0)) for k in after}
    lookups = delta["hits_l1"] + delta["hits_l2"] + delta["misses"]
    l2_lookups = delta["hits_l2"] + delta["misses"]
    return {
        "hit_ratio": (delta["hits_l1"] + delta["hits_l2"]) / lookups if lookups else None,
        "l2_hit_ratio": delta["hits_l2"] / l2_lookups if l2_lookups else None,
        "lookups": lookups,
        "l2_errors": delta["l2_errors"],
    }


def _snapshots(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / SNAPSHOTS_FILE
    return list(json.loads(path.read_text("utf-8"))) if path.exists() else []


def cache_snapshot(
    label: str,
    service: str = "location",
    event: str = "redis-outage",
    configuration: Configuration | None = None,
) -> dict[str, Any]:
    """Read the service's cache counters now; with the previous snapshot of this experiment,
    the hit ratios of the window in between (also kept on the chaos event)."""
    context = context_from(configuration)
    urls = context.open_platform().endpoints().replicas.get(service, [])
    if not urls:
        return {"label": label, "measured": False, "why": "replica URLs not reachable here"}
    counters = read_counters(urls)
    history = _snapshots(context.run_dir)
    window = hit_ratios(history[-1]["counters"], counters) if history else None
    history.append({"label": label, "counters": counters})
    (context.run_dir / SNAPSHOTS_FILE).write_text(json.dumps(history), "utf-8")
    if window is not None:
        try:
            open_event(context.run_dir, event)
            update_event(
                context.run_dir,
                event,
                details={f"cache_{history[-2]['label']}_to_{label}": window},
            )
        except EventNotFound:
            pass  # a window before the fault was injected
    return {"label": label, "measured": True, "counters": counters, "window": window}


def reset_cache_snapshots(configuration: Configuration | None = None) -> bool:
    """Start a new series of snapshots (the first step of the Redis experiment)."""
    (context_from(configuration).run_dir / SNAPSHOTS_FILE).unlink(missing_ok=True)
    return True


def wait_redis_in_use(
    event: str = "redis-outage", timeout_s: float = 60.0, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Wait until every replica reports Redis UP again — the cache is back in the path."""
    context = context_from(configuration)
    replicas = [u for urls in context.open_platform().endpoints().replicas.values() for u in urls]
    if not replicas:
        return wait_serving(event, timeout_s, configuration=configuration)
    opened = open_event(context.run_dir, event)
    with httpx.Client(timeout=2.0) as client:

        def redis_up(url: str) -> bool:
            try:
                body = client.get(f"{url}/actuator/health").json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(body.get("components", {}).get("redis", {}).get("status") == "UP")

        recovered = wait_until(lambda: all(redis_up(u) for u in replicas), timeout_s)
    if recovered is not None:
        record_recovery(context.run_dir, event, recovered)
    return recovery_result(event, opened.started_at, recovered)

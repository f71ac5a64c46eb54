"""The prod simulation's production failure modes, end to end on the package's shared deployment:
back-to-back faults fail no request while a ready replica exists, PostgreSQL and Redis fail over
within SPEC.md's targets losing no acknowledged write, an outage of the primaries' zone fails
both over, the availability alert fires when a service has no replica, and the chart's
autoscaling queries find their metrics in this Prometheus. Figures are printed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from chaos.accounts import AccountPool
from chaos.runner import run_experiments
from chaos.traffic import KEY_ROUTES
from runs.alerts import CHART_DIR
from simulation.backing.prometheus import query
from simulation.platforms.local import LocalPlatform
from simulation.platforms.readiness import is_ready

pytestmark = pytest.mark.e2e


class Traffic:
    """GETs over the key routes, about `per_s` a second, on a thread; every outcome kept."""

    def __init__(self, base_url: str, run_dir: Path, per_s: float = 20.0) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.accounts = AccountPool(base_url, run_dir, "b2b")
        self.base_url = base_url
        self.per_s = per_s
        self.results: list[tuple[float, str, int | str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            index = 0
            while not self._stop.is_set():
                route = KEY_ROUTES[index % len(KEY_ROUTES)]
                index += 1
                try:
                    status: int | str = client.get(
                        route.path, headers=self.accounts.take().headers
                    ).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.results.append((time.monotonic(), route.name, status))
                time.sleep(1.0 / self.per_s)

    def __enter__(self) -> Traffic:
        self.accounts.take()  # registers the first account before the clock starts
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)

    @property
    def failed(self) -> list[tuple[float, str, int | str]]:
        return [r for r in self.results if not (isinstance(r[2], int) and r[2] < 400)]


def _wait(condition: object, timeout_s: float, what: str) -> float:
    began = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - began < timeout_s, f"{what} not within {timeout_s:.0f} s"
        time.sleep(0.1)
    return time.monotonic() - began


def test_status_shows_roles_zones_prometheus_and_memory(prod_sim: Path) -> None:
    status = LocalPlatform(prod_sim).status()
    roles = {d.name: (d.role, d.zone) for d in status.dependencies if d.zone}
    assert {role for role, _ in roles.values()} >= {"primary", "monitor", "sentinel"}
    assert status.monitoring["prometheus"].startswith("http://127.0.0.1:")
    total = status.memory_bytes["total"]
    print(f"\n[prod-sim] memory (PSS + data on tmpfs): {total / 2**20:,.0f} MiB — "
          + ", ".join(f"{k} {v / 2**20:,.0f}" for k, v in status.memory_bytes.items()))  # fmt: skip
    assert status.memory_bytes["replicas"] > 0 and status.memory_bytes["postgresql"] > 0


def test_prometheus_scrapes_every_replica_and_exporter_with_their_labels(prod_sim: Path) -> None:
    platform = LocalPlatform(prod_sim)
    prometheus = platform.endpoints().monitoring["prometheus"]
    replicas = {r.replica: (r.service, r.zone) for r in platform.status().replicas}

    def all_up() -> bool:
        targets = query(prometheus, "up")
        return len(targets) >= len(replicas) + 6 and all(t["value"][1] == "1" for t in targets)

    _wait(all_up, 30, "every scrape target up")
    scraped = {
        t["metric"]["replica"]: (t["metric"]["service"], t["metric"]["zone"])
        for t in query(prometheus, 'up{job="tripgen"}')
    }
    assert scraped == replicas
    jobs = {t["metric"]["job"] for t in query(prometheus, "up")}
    assert jobs == {"tripgen", "nginx", "postgresql", "redis", "prometheus"}
    members = {t["metric"]["member"] for t in query(prometheus, "pg_up == 1")}
    assert members == {"pg-1", "pg-2"}
    assert {t["metric"]["member"] for t in query(prometheus, "redis_up == 1")} == {
        "redis-1",
        "redis-2",
    }


def test_a_kill_then_a_zone_outage_fail_no_request_while_a_replica_is_ready(
    prod_sim: Path,
) -> None:
    platform = LocalPlatform(prod_sim)
    endpoints = platform.endpoints()
    location_1 = endpoints.replicas["location"][0]
    with Traffic(endpoints.base_url, prod_sim / "runs") as traffic, httpx.Client() as http:
        time.sleep(2)
        killed_at = time.monotonic()
        platform.kill_replica("user", "user-1")
        platform.kill_replica("location", "location-1")
        time.sleep(0.5)
        # The zone goes 2 s after the kill, or as soon as the killed location replica is back
        # if that takes longer: location's other replica is in zone-2, and with no ready one
        # a failure would be the outage's, not nginx's.
        _wait(lambda: is_ready(http, location_1), 60, "location-1 back")
        time.sleep(max(0.0, killed_at + 2 - time.monotonic()))
        outage_at = time.monotonic()
        platform.zone_outage("zone-2")
        time.sleep(5)
        platform.restore("zone-2")
        time.sleep(1)
    print(f"\n[back-to-back] zone-2 out {outage_at - killed_at:.1f} s after the kill; "
          f"{len(traffic.results)} requests, {len(traffic.failed)} failed")  # fmt: skip
    assert len(traffic.results) > 100
    assert traffic.failed == []


def test_postgresql_and_redis_fail_over_within_spec_losing_nothing(prod_sim: Path) -> None:
    outcomes = run_experiments(
        ["postgresql-failover", "redis-failover"],
        profile="prod",
        platform="local",
        state_dir=prod_sim,
    )
    for outcome in outcomes:
        assert outcome.ok, (outcome.name, outcome.notes)
        assert outcome.rate_limited == 0
    pg, redis = outcomes
    pg_s, redis_s = pg.recoveries["postgresql-failover"], redis.recoveries["redis-failover"]
    pg_writes = pg.findings["what users saw during the failover"]
    print(f"\n[failover] PostgreSQL writes again after {pg_s:.1f} s (SPEC < 30 s), "
          f"Redis after {redis_s:.1f} s (SPEC < 60 s); users' requests during the PostgreSQL "
          f"failover: {pg_writes['requests']} with {pg_writes['failures']} failed")  # fmt: skip
    assert pg_s is not None and pg_s < 30
    assert redis_s is not None and redis_s < 60
    promoted = pg.findings["the standby was promoted"]
    assert promoted["promoted"] not in (None, promoted["lost"])


def test_an_outage_of_the_primaries_zone_fails_both_stores_over(prod_sim: Path) -> None:
    platform = LocalPlatform(prod_sim)
    before = platform.primaries()
    (outcome,) = run_experiments(
        ["zone-outage"], profile="prod", platform="local", state_dir=prod_sim
    )
    assert outcome.ok, outcome.notes
    assert {"postgresql-failover", "redis-failover"} <= set(outcome.recoveries)
    moved = outcome.findings["where the PostgreSQL primary went (local)"]
    assert moved["lost"] == before["postgresql"] and moved["promoted"] != before["postgresql"]
    redis = outcome.findings["where the Redis primary went (local)"]
    assert redis["lost"] == before["redis"] and redis["promoted"] != before["redis"]
    print(f"\n[zone outage] {before} → {platform.primaries()}; recoveries {outcome.recoveries}")


def test_the_availability_alert_fires_when_a_service_has_no_replica(prod_sim: Path) -> None:
    platform = LocalPlatform(prod_sim)
    prometheus = platform.endpoints().monitoring["prometheus"]
    client = platform._client()
    firing = (
        'ALERTS{alertname="TripGenAvailabilityBelowSLA",alertstate="firing",service="location"}'
    )
    names = [r.name for r in platform._plan().replicas_of("location")]
    for name in names:
        client.stop(name, wait=True)
    try:
        took = _wait(lambda: bool(query(prometheus, firing)), 60, "the availability alert")
        print(f"\n[alerts] availability alert firing {took:.1f} s after location went away")
    finally:
        for name in names:
            client.start(name, wait=False)
        _wait(lambda: LocalPlatform(prod_sim).status().all_ready, 120, "location back")


def test_the_chart_s_autoscaling_queries_find_their_metrics_here(prod_sim: Path) -> None:
    prometheus = LocalPlatform(prod_sim).endpoints().monitoring["prometheus"]
    services = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["services"]
    checked = {}
    for service, values in services.items():
        metric = values["autoscaling"]["customMetric"]
        if metric.get("source") != "prometheus" or not metric.get("query"):
            continue
        # The chart selects pods by namespace and name; locally a replica's `service` label says
        # the same. The rest of the query (metric, function, window) is evaluated as written.
        local = metric["query"] % f'job="tripgen",service="{service}"'
        checked[service] = query(prometheus, local)
        assert checked[service], f"{service}: {local} finds no series in this Prometheus"
    assert checked

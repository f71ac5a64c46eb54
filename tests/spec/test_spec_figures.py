"""SPEC.md figures the code holds but no other test pinned; tests/spec/coverage.py cites these.

Each test names its SPEC.md row. Defaults are read from the settings classes' field definitions,
so a TRIPGEN_* variable in the environment cannot change what is checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runs.spec import load_spec
from services.ai.settings import AISettings
from services.datainit.expected import SAMPLE_USERS
from services.kit.auth import Role
from services.kit.settings import ServiceSettings
from simulation.backing.pgbackrest import BackupRepository, PgHost
from simulation.backing.redis_ha import RedisNode
from simulation.capacity.cost import load_prices
from simulation.k8s.topology import APPLICATION_TAINT, ZONES, topology


def test_dev_pool_is_fixed_at_two_nodes() -> None:
    # SPEC.md › Compute, dev (004): 2 × Standard_B2s, fixed (no autoscaling)
    (pool,) = topology("dev").pools
    assert (pool.count, pool.min_count, pool.max_count) == (2, 2, 2)
    assert (pool.vm.vcpu, pool.vm.memory_gib) == (2, 4)


def test_prod_v1_pools() -> None:
    # SPEC.md › Compute, prod v1 (000): system 3 × D2s_v3 (2 vCPU, 8 GB) autoscale 3–5; application
    # 3 × D4s_v3 autoscale 3–10, tainted; both over zones 1, 2, 3
    v1 = topology("prod-v1")
    system, app = v1.pool("system"), v1.pool("application")
    assert (system.vm_size, system.count, system.min_count, system.max_count) == (
        "Standard_D2s_v3",
        3,
        3,
        5,
    )
    assert (system.vm.vcpu, system.vm.memory_gib) == (2, 8)
    assert (app.vm_size, app.count, app.min_count, app.max_count) == ("Standard_D4s_v3", 3, 3, 10)
    assert app.taints == (APPLICATION_TAINT,)
    assert system.zones == app.zones == ZONES


def test_l1_cache_lives_5_minutes_by_default() -> None:
    # SPEC.md › Data, cache, messaging: L1 in-process TTL 5 min
    assert ServiceSettings.model_fields["l1_ttl_s"].default == 5 * 60


def test_sample_users_are_the_spec_table() -> None:
    # SPEC.md › Dev data initialisation: users, role, sample trips
    assert [(u.username, u.role, u.trips) for u in SAMPLE_USERS] == [
        ("admin", Role.ADMIN, 5),
        ("testuser1", Role.USER, 3),
        ("testuser2", Role.USER, 2),
        ("poweruser", Role.POWER_USER, 7),
    ]


@pytest.mark.parametrize(
    ("profile", "users"),
    [("dev", 6), ("prod", 50_000), ("phase2", 100_000), ("phase3", 1_000_000)],
)
def test_concurrent_users_per_phase(profile: str, users: int) -> None:
    # SPEC.md › Targets (SLA and phases): concurrent users (prod: 001's phase-1 figure)
    target = load_spec(profile).concurrent_users
    assert target is not None
    assert target.value == users


def test_alert_objectives_of_prod() -> None:
    # SPEC.md › Targets › Alerts (v2): availability < 99.9% (5 min), error rate > 1% (5 min),
    # AI response > 5 s (2 min)
    prod = load_spec("prod")
    expected = {
        "alert-availability": ("availability", ">=", 0.999, 300),
        "alert-error-rate": ("error_rate", "<=", 0.01, 300),
        "alert-ai-response": ("ai_generation_p95_ms", "<=", 5000, 120),
    }
    for objective_id, (metric, comparator, threshold, window_s) in expected.items():
        o = prod.objective(objective_id)
        found = (o.metric, o.comparator, o.threshold, o.window_s)
        assert found == (metric, comparator, threshold, window_s), objective_id


def test_monthly_costs_recorded_in_the_topology() -> None:
    # SPEC.md › Targets: monthly cost dev $150, prod v1 $2,650, prod v2 $5,600 → $4,200
    assert topology("dev").monthly_cost_usd == (150,)
    assert topology("prod-v1").monthly_cost_usd == (2650,)
    assert topology("prod").monthly_cost_usd == (5600, 4200)


def test_breaker_defaults_are_the_spec_figures() -> None:
    # SPEC.md › Circuit breaker: failure rate > 50% → open, half-open after 5 min
    fields = AISettings.model_fields
    assert fields["llm_breaker_failure_rate"].default == 0.5
    assert fields["llm_breaker_reset_s"].default == 5 * 60


def test_cost_budgets_per_phase_are_the_spec_figures() -> None:
    # SPEC.md › Targets › monthly cost: prod $5,600 → $4,200 optimised (v2), phase 2 $8,500,
    # phase 3 $25,000 — the budgets the capacity study's modelled cost is judged against
    budgets = load_prices().budgets
    found = {spec: (b.low, b.high) for spec, b in budgets.items()}
    assert found == {"prod": (4200, 5600), "phase2": (None, 8500), "phase3": (None, 25000)}


def test_pgbackrest_keeps_35_days_and_archives_well_inside_5_minutes(tmp_path: Path) -> None:
    # SPEC.md › Data: PostgreSQL prod backups 35 d, PITR 5 min granularity. prod-sim's
    # pgBackRest expires full backups by age after 35 days, and archive_timeout bounds how old
    # the newest archived WAL (hence the latest restorable point) can be.
    host = PgHost(tmp_path / "data", 5432, tmp_path / "sockets")
    repository = BackupRepository(tmp_path / "backup", [host])
    config = repository.config().splitlines()
    assert "repo1-retention-full-type=time" in config
    assert "repo1-retention-full=35" in config
    archive = repository.archive_settings()
    assert archive["archive_mode"] == "on"
    assert archive["archive_timeout"].endswith("s")
    assert 0 < int(archive["archive_timeout"][:-1]) <= 5 * 60


def test_prod_sim_redis_persists_rdb_hourly_and_aof_every_second(tmp_path: Path) -> None:
    # SPEC.md › Data: Redis prod — RDB hourly + AOF everysec, auth required
    node = RedisNode(tmp_path / "redis", node_name="redis-1", password="pw", port=6390)
    config = node.config().splitlines()
    assert {"save 3600 1", "appendonly yes", "appendfsync everysec"} <= set(config)
    assert 'requirepass "pw"' in config

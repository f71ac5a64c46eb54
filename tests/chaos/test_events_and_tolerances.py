"""The event journal, its merge into a run's results, and the SLA-derived tolerances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chaos.events import finalize, open_event, start_event, update_event
from chaos.providers.tolerances import all_true, at_most, meets_objective
from chaos.sla import resolve
from runs.results import EndpointStats, LoadResults


def _results(path: Path) -> Path:
    now = datetime.now(UTC)
    totals = EndpointStats(
        method="",
        name="Aggregated",
        requests=1,
        failures=0,
        mean_ms=1,
        min_ms=1,
        max_ms=1,
        median_ms=1,
        rps=1,
        failures_per_s=0,
    )
    LoadResults(
        profile="prod",
        platform="local",
        users=1,
        duration_s=1,
        started_at=now - timedelta(seconds=5),
        ended_at=now,
        totals=totals,
    ).save(path)
    return path


def test_first_end_and_recovery_are_kept(tmp_path: Path) -> None:
    start_event(tmp_path, "redis-outage", {"dependency": "redis"})
    first = update_event(tmp_path, "redis-outage", ended_at=datetime.now(UTC))
    later = update_event(tmp_path, "redis-outage", ended_at=datetime.now(UTC) + timedelta(1))
    assert later.ended_at == first.ended_at
    assert open_event(tmp_path, "redis-outage").details == {"dependency": "redis"}


def test_finalize_merges_into_existing_results(tmp_path: Path) -> None:
    results = _results(tmp_path / "results.json")
    start_event(tmp_path, "postgresql-restart")
    update_event(tmp_path, "postgresql-restart", recovered_at=datetime.now(UTC))
    finalize(tmp_path)
    loaded = LoadResults.load(results)
    assert [e.name for e in loaded.chaos_events] == ["postgresql-restart"]
    assert loaded.chaos_events[0].recovery_s is not None


def test_tolerances_come_from_the_sla_specs() -> None:
    assert resolve("availability", "prod").objective.threshold == 0.999
    assert resolve("availability", "dev").objective.threshold == 0.95
    # dev has no failover target (SPEC.md: recovery "manual"): prod's applies, and says so
    failover = resolve("postgres-failover", "dev")
    assert failover.spec == "prod" and failover.objective.threshold == 30
    assert resolve("ai_generation_p95_ms", "dev").objective.id == "ai-generation"
    assert meets_objective({"availability": 0.9995}, "availability", "availability", "prod")
    assert not meets_objective({"availability": 0.99}, "availability", "availability", "prod")
    assert not meets_objective({"recovery_s": None}, "postgres-failover", "recovery_s", "prod")
    assert meets_objective({"recovery_s": 12.0}, "postgres-failover", "recovery_s", "prod")
    assert not meets_objective({"recovery_s": 31.0}, "postgres-failover", "recovery_s", "prod")
    with pytest.raises(KeyError):
        resolve("no-such-objective", "prod")


def test_plain_tolerances() -> None:
    assert all_true({"balanced": True, "three_deliveries": True}, ["balanced", "three_deliveries"])
    assert not all_true({"balanced": True, "three_deliveries": None}, ["three_deliveries"])
    assert at_most({"max_latency_ms": 2999.0}, "max_latency_ms", 3000)
    assert not at_most({"max_latency_ms": None}, "max_latency_ms", 3000)

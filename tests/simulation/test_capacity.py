"""The capacity model: Erlang C against known values, sizing, and the CLI on a synthetic run."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runs.results import EndpointStats, LoadResults, ServiceUsage
from simulation.capacity.__main__ import main
from simulation.capacity.calibration import calibrate, service_of
from simulation.capacity.model import plan, size_service
from simulation.capacity.production import application_pool, deployments, prod_values
from simulation.capacity.queueing import erlang_c, wait_quantile_s


def test_erlang_c_known_values() -> None:
    # Textbook: c = 2, a = 1 → C = 1/3; c = 1 reduces to ρ (M/M/1).
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert erlang_c(10, 0) == 0 and erlang_c(3, 3.0) == 1.0


def test_wait_quantile_matches_mm1_closed_form() -> None:
    # M/M/1, λ = 8, μ = 10: P(W > t) = ρ e^{-(μ-λ)t} → t95 = ln(0.8/0.05)/2.
    assert wait_quantile_s(1, 8, 10, 0.95) == pytest.approx(math.log(0.8 / 0.05) / 2)
    assert wait_quantile_s(1, 10, 10, 0.95) == math.inf
    assert wait_quantile_s(4, 1, 10, 0.95) == 0.0  # almost nobody waits


def _endpoint(name: str, requests: int, median: float, p95: float) -> EndpointStats:
    return EndpointStats(
        method="GET",
        name=name,
        requests=requests,
        failures=0,
        mean_ms=median,
        min_ms=1,
        max_ms=p95 * 2,
        median_ms=median,
        percentiles_ms={"50": median, "95": p95},
        rps=requests / 60,
        failures_per_s=0,
    )


def _results(with_cpu: bool = True) -> LoadResults:
    start = datetime(2026, 11, 22, tzinfo=UTC)
    endpoints = [
        _endpoint("GET /api/locations/places/nearby", 60_000, 8, 20),
        _endpoint("GET /api/users/me", 30_000, 6, 15),
        _endpoint("POST /api/trips", 10_000, 12, 30),
    ]
    return LoadResults(
        profile="prod",
        platform="local",
        users=50,
        duration_s=60,
        started_at=start,
        ended_at=start + timedelta(seconds=60),
        replicas={"user": 3, "trip": 3, "location": 2},
        endpoints=endpoints,
        totals=_endpoint("Aggregated", 100_000, 8, 25),
        resource_usage={
            "location": ServiceUsage(cpu_seconds=30.0, replicas=2),
            "user": ServiceUsage(cpu_seconds=18.0, replicas=3),
            "trip": ServiceUsage(cpu_seconds=12.0, replicas=3),
        }
        if with_cpu
        else {},
    )


def test_service_of_maps_route_prefixes() -> None:
    assert service_of("GET /api/locations/places/nearby") == "location"
    assert service_of("POST /api/trips/[id]/schedules") == "trip"
    assert service_of("ai_generation") is None


def test_calibration_uses_measured_cpu_per_request() -> None:
    cal = calibrate(_results())
    assert cal["location"].demand_s == pytest.approx(30 / 60_000)
    assert cal["location"].share == pytest.approx(0.6)
    assert cal["location"].demand_source == "measured cpu"
    fallback = calibrate(_results(with_cpu=False))
    assert fallback["user"].demand_source == "upper bound from latency"


def test_more_load_needs_more_replicas_and_saturation_is_reported() -> None:
    cal = calibrate(_results())["location"]
    dep = deployments(prod_values())["location"]
    small = size_service(cal, dep, rate=100, p95_objective_ms=200)
    big = size_service(cal, dep, rate=20_000, p95_objective_ms=200)
    assert small.replicas_needed == dep.hpa_min and small.fits_hpa
    assert big.replicas_needed > dep.hpa_max and not big.fits_hpa
    assert big.utilisation <= dep.cpu_target


def test_plan_checks_the_application_pool() -> None:
    deps = deployments(prod_values())
    pool = application_pool("prod")
    result = plan(calibrate(_results()), deps, pool, 1000, 200)
    assert result.pool_cpu_m_zone_loss < result.pool_cpu_m_max
    # SPEC.md › Compute prod v2: 20 × D8s_v3 at most; allocatable is below 160 vCPU.
    assert result.pool_cpu_m_max < 160_000
    assert {s.service for s in result.services} == {"user", "trip", "location"}


def test_cli_writes_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _results().save(tmp_path / "results.json")
    assert main(["--results", str(path), "--out", str(tmp_path / "out")]) == 0
    written = json.loads(next((tmp_path / "out").glob("capacity-*.json")).read_text())
    assert set(written["plans"]) == {"phase 1", "phase 2", "phase 3"}
    assert "phase 1" in capsys.readouterr().out


def test_cli_without_a_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--results", str(tmp_path / "none.json")]) == 2
    assert "no measured run" in capsys.readouterr().out

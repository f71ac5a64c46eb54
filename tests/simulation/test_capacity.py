"""The capacity model's steady-state side (Erlang C, the HPA's fixed point, the pool check) and
its command line: a clear error without a run, a report from a calibrated run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from simulation.capacity import __main__ as cli
from simulation.capacity.cluster_spec import ClusterSpec, prod_cluster
from simulation.capacity.model import plan, size_service
from simulation.capacity.queueing import erlang_c, wait_quantile_s
from simulation.capacity.study import ScenarioOutcome, Study, checks, simulate
from tests.simulation.capacity.helpers import constant, measured, synthetic_workload


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


@pytest.fixture(scope="module")
def cluster() -> ClusterSpec:
    return prod_cluster()


def test_the_hpa_settles_by_cpu_per_request_not_by_latency(cluster: ClusterSpec) -> None:
    location = cluster.services["location"]  # 500m request, 70 % target, one worker
    quiet = size_service(location, rate=50.0, demand_s=0.004, route_p95_ms=20,
                         p95_objective_ms=200)  # fmt: skip
    assert quiet.settled_replicas == location.hpa.min_replicas and quiet.fits_hpa
    # 600 req/s × 4 ms = 2.4 cores; 2.4 / (0.7 × 0.5) = 6.9 → 7 pods.
    busy = size_service(location, 600.0, 0.004, 20, 200)
    assert busy.hpa_replicas == 7
    assert busy.cpu_utilisation == pytest.approx(2.4 / (7 * 0.5))
    flood = size_service(location, 6000.0, 0.004, 20, 200)
    assert not flood.fits_hpa and flood.settled_replicas == location.hpa.max_replicas
    assert math.isinf(flood.wait_p95_ms)  # 10 single-core pods cannot serve 24 cores of work


def test_plan_checks_the_application_pool(cluster: ClusterSpec) -> None:
    result = plan(synthetic_workload(), cluster, 1000.0, 200.0)
    assert result.pool_cpu_m_zone_loss < result.pool_cpu_m_max
    # SPEC.md › Compute prod v2: 20 × D8s_v3 at most; allocatable is below 160 vCPU.
    assert result.pool_cpu_m_max < 160_000
    assert {s.service for s in result.services} == {"user", "trip", "location"}
    assert result.fits_hpa and result.fits_pool


def test_cli_without_a_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--results", str(tmp_path / "none.json")]) == 2
    assert "no measured run" in capsys.readouterr().out


def test_cli_reports_a_study_of_a_calibrated_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cluster: ClusterSpec,
) -> None:
    path = measured().save(tmp_path / "results.json")

    def quick_study(cluster: ClusterSpec, workload: object, assumptions: object,
                    prices: object, **_: object) -> Study:  # fmt: skip
        # One short scenario instead of all of them (the full study takes half a minute).
        shape = constant(200.0, hold_s=300.0)
        result = simulate(cluster, workload, assumptions, shape)  # type: ignore[arg-type]
        return Study(scenarios=[ScenarioOutcome(result, shape.phase, checks(result, shape.phase))])

    monkeypatch.setattr(cli, "run_study", quick_study)
    monkeypatch.setattr(cli, "load_validation", lambda: None)
    out = tmp_path / "out"
    assert cli.main(["--results", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "scenarios (modelled)" in printed
    summary = json.loads(next(out.glob("capacity-*.json")).read_text())
    assert summary["scenarios"][0]["name"] == "prod: 200"
    markdown = (out / "capacity.md").read_text()
    assert "Modelled, not measured" in markdown
    assert "no validation has been run on this machine" in markdown
    assert (out / "capacity.html").read_text().count("data:image/png;base64,") == 2


def test_cli_day_prints_the_wall_time_of_each_phase_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = measured().save(tmp_path / "results.json")
    seen: list[str] = []

    def short_day(cluster: ClusterSpec, workload: object, assumptions: object, shape: object,
                  *_: object) -> object:  # fmt: skip
        # An hour instead of a day: the CLI's printing is under test, not the simulation.
        seen.append(getattr(shape, "name", ""))
        quick = constant(100.0, hold_s=300.0)
        return simulate(cluster, workload, assumptions, quick)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "simulate", short_day)
    monkeypatch.setattr(cli, "load_validation", lambda: None)
    assert cli.main(["--results", str(path), "--day"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert len(seen) == 3 and all(name.startswith("daily curve") for name in seen)
    assert printed.count("of wall time") == 3 and "under the 10 s goal" in printed

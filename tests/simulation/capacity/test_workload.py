"""Calibration from a measured step, the operational laws' residuals, the rendered prod chart as
the simulation reads it, and the price table's monthly cost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulation.capacity.calibration import WAITING_SUFFIX, CalibrationError, service_of
from simulation.capacity.cluster_spec import ClusterSpec, cluster_from_documents, millicores
from simulation.capacity.cost import PricesError, load_prices, monthly_cost
from simulation.capacity.laws import check_laws
from simulation.capacity.loadshapes import phase_of, phases
from simulation.capacity.localfit import background_cores, measured_figures
from simulation.capacity.study import simulate
from simulation.capacity.validation import (
    cfs_weight,
    descendants,
    other_runnable,
    proc_table,
    tree_cpu_s,
)
from simulation.capacity.workload import StepExtras, Workload, calibrate_workload
from tests.simulation.capacity.helpers import endpoint, measured

SCHEDULE = "/api/trips/[id]/schedules/[id]"


def test_prod_sim_primary_and_standby_both_count_as_database_work() -> None:
    cpu = {"location": 14.0, "user": 3.0, "trip": 1.0, "pg-1": 3.0, "pg-2": 1.0,
           "pg-monitor": 2.0, "redis-1": 1.0, "sentinel-1": 1.0, "nginx": 2.0}  # fmt: skip
    idle = StepExtras(idle_cores={"pg-1": 0.01, "pg-monitor": 0.02})
    w = calibrate_workload(measured(cpu=cpu), idle)
    assert w.dependency_demand_s["postgresql"] == pytest.approx((3.0 - 1.0 + 1.0) / 5100)
    assert w.dependency_demand_s["redis"] == pytest.approx(1.0 / 5100)
    assert "pg-monitor" not in w.dependency_demand_s  # housekeeping: only its idle CPU


def test_calibration_reads_demand_mix_generations_and_cache() -> None:
    extras = StepExtras(loadgen_cpu_s=5.1, machine_busy_cores=0.65,
                        db_busy_connections={"location": 0.4})  # fmt: skip
    w = calibrate_workload(measured(), extras, "r.json")
    assert w.service_demand_s["location"] == pytest.approx(14.0 / 4000)
    nearby = next(r for r in w.routes if r.name == "GET /api/locations/places/nearby")
    place = next(r for r in w.routes if r.name == "GET /api/locations/places/[id]")
    # Apportioned by mean response time within the service, the service total preserved.
    assert nearby.demand_s == pytest.approx(2 * place.demand_s)
    assert 3000 * nearby.demand_s + 1000 * place.demand_s == pytest.approx(14.0)
    assert nearby.share == pytest.approx(3000 / 5100)
    assert w.dependency_demand_s == pytest.approx(
        {"nginx": 2 / 5100, "postgresql": 4 / 5100, "redis": 1 / 5100}
    )
    assert w.generations_per_request == pytest.approx(25 / 5100)
    assert w.generation_cpu_s == pytest.approx(1.0)
    assert w.cache_hit_ratio == pytest.approx(0.85)
    assert w.loadgen_demand_s == pytest.approx(0.001)
    # Little's law on the pool: busy connections / the service's rate.
    assert w.db_hold_s["location"] == pytest.approx(0.4 / 40.0)
    # Closed loop: Z = N / X − R = 40 / 51 − R.
    assert w.think_s == pytest.approx(40 / 51 - sum(r.share * r.mean_ms for r in w.routes) / 1000)
    assert Workload.from_dict(w.to_dict()) == w
    assert w.scaled(0.5).service_demand_s["location"] == pytest.approx(14.0 / 8000)


def test_a_long_poll_is_a_wait_not_a_route_of_the_model() -> None:
    """25 long polls of ~1.2 s: in the model neither their latency nor their share; the trip
    CPU they used stays in the service's demand (over its other routes)."""
    plain = measured()
    waits = plain.model_copy(
        update={
            "endpoints": [*plain.endpoints, endpoint(f"{SCHEDULE}{WAITING_SUFFIX}", 25, 1200.0)]
        }
    )
    with_waits, without = calibrate_workload(waits), calibrate_workload(plain)
    assert [r.name for r in with_waits.routes] == [r.name for r in without.routes]
    assert with_waits.routes == without.routes and with_waits.think_s == without.think_s
    assert measured_figures(waits, StepExtras()) == measured_figures(plain, StepExtras())
    assert service_of(f"{SCHEDULE}{WAITING_SUFFIX}") == "trip"  # still trip's, for the laws


def test_a_run_without_cpu_figures_cannot_calibrate() -> None:
    with pytest.raises(CalibrationError, match="no CPU per service"):
        calibrate_workload(measured(cpu={}).model_copy(update={"resource_usage": {}}))


def test_laws_and_figures_of_a_step() -> None:
    extras = StepExtras(loadgen_cpu_s=5.1, machine_busy_cores=0.65, in_flight={"location": 0.3},
                        server_requests={"location": 4100.0})  # fmt: skip
    results = measured()
    w = calibrate_workload(results, extras)
    checks = {
        c.law.split(" ")[0] + c.scope: c for c in check_laws("calibration", results, extras, w)
    }
    assert checks["utilisationcalibration: location"].residual == pytest.approx(0.0)
    little = checks["Little:calibration"]
    assert little.residual == pytest.approx(0.0, abs=1e-9)  # Z was fitted on this very step
    assert checks["flowcalibration: location"].residual == pytest.approx(100 / 4000)
    figures = measured_figures(results, extras)
    assert figures["throughput"] == pytest.approx(51.0)
    assert figures["utilisation"] == pytest.approx((14 + 3 + 1 + 25) / 100)
    # Other processes: busy cores no process of the deployment (prometheus included) and not
    # the load generator used.
    assert background_cores(results, extras) == pytest.approx(0.65 - (53.0 + 5.1) / 100)


def test_the_rendered_chart_gives_every_figure_the_simulation_needs(cluster: ClusterSpec) -> None:
    # SPEC.md › Autoscaling and disruption (prod): HPA min–max and CPU targets per service.
    hpa = {n: (s.hpa.min_replicas, s.hpa.max_replicas) for n, s in cluster.services.items()}
    assert hpa == {"user": (3, 10), "trip": (3, 15), "ai": (2, 8), "location": (2, 10)}
    assert cluster.services["ai"].hpa.metrics[0].utilisation == pytest.approx(0.8)
    assert cluster.services["trip"].cpu_request_m == 1000
    assert cluster.services["ai"].generation_slots >= 1
    assert all(s.hard_anti_affinity for s in cluster.services.values())
    assert cluster.pool.min_count == 6 and cluster.pool.max_count == 20
    assert millicores("1.5") == 1500 and millicores("250m") == 250


def test_a_chart_without_its_configmap_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="ConfigMap with TRIPGEN_PROFILE"):
        cluster_from_documents([])


def test_phases_come_from_the_sla_specs() -> None:
    assert [(p.spec, p.tps) for p in phases()] == [
        ("prod", 1000.0), ("phase2", 5000.0), ("phase3", 10000.0)
    ]  # fmt: skip
    assert phase_of("prod").users == 50_000


def test_monthly_cost_from_node_hours(
    cluster: ClusterSpec, workload: Workload, assumptions: object, tmp_path: Path
) -> None:
    prices = load_prices()
    # 001 §11.1.1: D8s_v3 × 6 = $2,400 → $400 a node-month; its managed services add up to
    # $3,100 (the table's items sum to $5,500, not the $5,600 it states).
    assert prices.node_price("Standard_D8s_v3") == 400
    assert sum(prices.managed_for("phase2").values()) == 3100
    from simulation.capacity.loadshapes import LoadShape

    flat = LoadShape(name="flat", duration_s=3600.0, times_s=(0.0, 3600.0), rps=(10.0, 10.0),
                     judged_from_s=0.0, phase=phase_of("prod"))  # fmt: skip
    result = simulate(cluster, workload, assumptions, flat)  # type: ignore[arg-type]
    cost = monthly_cost(result, cluster, prices, "prod")
    assert cost.app_nodes_mean == pytest.approx(6.0)  # the pool's minimum all hour
    assert cost.app_nodes_cost == pytest.approx(2400.0)
    assert cost.system_nodes_cost == pytest.approx(3 * 200.0)  # 3 × D4s_v3 system pool
    assert cost.total == pytest.approx(2400 + 600 + 3100)
    assert cost.verdict == "over budget"  # $6,100 > $5,600: the seed's table omits the system pool
    (tmp_path / "p.yaml").write_text("hours_per_month: 0\n")
    with pytest.raises(PricesError):
        load_prices(tmp_path / "p.yaml")


def test_the_utilisation_law_counts_the_replicas_idle_cpu() -> None:
    # Location: 14 CPU-s over 100 s on 2 replicas idling at 0.01 cores each → 2 CPU-s idle.
    results = measured()
    extras = StepExtras(idle_cores={"location": 0.01})
    w = calibrate_workload(results, extras)
    law = next(c for c in check_laws("calibration", results, extras, w) if "location" in c.scope)
    assert law.right == pytest.approx(0.02 + 40.0 * (14.0 - 2.0) / 4000)
    assert law.residual == pytest.approx(0.0, abs=1e-9)


def test_other_runnable_processes_leave_out_the_deployment_and_this_process() -> None:
    me = os.getpid()
    table = {1: (0, 0.0, 1.0), 10: (1, 5.0, 1.0), 11: (10, 2.0, 1.0), 12: (10, 1.0, 0.0),
             20: (1, 3.0, 1.0), 21: (20, 1.0, 1.0), me: (1, 0.5, 1.0)}  # fmt: skip
    assert descendants(table, [10]) == {10, 11, 12}
    assert tree_cpu_s(10, table) == pytest.approx(8.0)
    # Runnable: 1, 10, 11, 20, 21 and this process; the deployment is 10's tree.
    assert other_runnable(table, [10]) == 3
    assert other_runnable(table, [10, 20]) == 1
    assert os.getpid() in proc_table()


def test_niced_runnable_processes_count_by_their_cfs_weight() -> None:
    assert cfs_weight(0) == 1.0
    assert cfs_weight(10) == pytest.approx(110 / 1024, rel=0.02)  # the kernel's weight table
    assert cfs_weight(19) == pytest.approx(15 / 1024, rel=0.05)
    table = {1: (0, 0.0, 0.0), 30: (1, 1.0, cfs_weight(10)), 31: (1, 1.0, 1.0)}
    assert other_runnable(table, []) == pytest.approx(1.107, abs=0.001)


def test_the_process_table_reads_this_process_nice_level() -> None:
    script = "import time\nend = time.time() + 5\nwhile time.time() < end: pass"
    child = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", script])
    level = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    try:
        deadline = time.monotonic() + 5
        # (`nice` runs at the parent's level until it has set its own and exec'd Python)
        while os.getpriority(os.PRIO_PROCESS, child.pid) != level:
            assert time.monotonic() < deadline, f"the child never reached nice {level}"
            time.sleep(0.01)
        while time.monotonic() < deadline:
            weight = proc_table().get(child.pid, (0, 0.0, 0.0))[2]
            if weight:
                break
            time.sleep(0.05)
        assert weight == pytest.approx(cfs_weight(level))
    finally:
        child.kill()
        child.wait()

"""The discrete-event simulation of the prod cluster: it agrees with the steady-state analytic
model where both apply, a lost zone behaves as Kubernetes does by default, a full pool and an
HPA at its maximum are reported, and a simulated day follows its curve (its wall time is
`nox -s capacity-day`'s business, not a timed unit test's)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulation.capacity.assumptions import Assumptions
from simulation.capacity.cluster_spec import ClusterSpec
from simulation.capacity.des.engine import SimOptions, Simulation
from simulation.capacity.loadshapes import daily_shape, phase_of
from simulation.capacity.model import plan
from simulation.capacity.study import agreement, simulate
from simulation.capacity.workload import Workload
from tests.simulation.capacity.helpers import constant


def test_constant_load_settles_where_the_analytic_model_says(
    cluster: ClusterSpec, workload: Workload, assumptions: Assumptions
) -> None:
    result = simulate(cluster, workload, assumptions, constant(1000.0))
    expected = plan(workload, cluster, 1000.0, 200.0)
    for a in agreement(result, expected):
        assert abs(a.simulated_replicas - a.analytic_replicas) <= 1, a
        assert a.simulated_utilisation == pytest.approx(a.analytic_utilisation, rel=0.15), a
    assert result.throughput_rps == pytest.approx(1000.0, rel=0.01)
    assert result.error_rate == 0.0
    # Analytic p95 of the slowest route: its measured p95 plus the Erlang C wait there.
    assert result.general_p95_ms is not None and 20 < result.general_p95_ms < 200


def test_a_lost_zone_fails_requests_until_the_endpoints_drop_it_then_recovers(
    cluster: ClusterSpec, workload: Workload, assumptions: Assumptions
) -> None:
    shape = constant(500.0, hold_s=1800.0, zone_loss_at_s=900.0, zone="koreacentral-1")
    result = Simulation(cluster, workload, assumptions, shape).run()
    kinds = {e.kind: e.at_s for e in result.events}
    k = assumptions.kubernetes
    assert kinds["zone-lost"] == 900.0
    # Pods are replaced only when the unreachable taint's toleration evicts them.
    assert kinds["evicted"] == pytest.approx(
        900.0 + k.node_monitor_grace_period_s + k.pod_eviction_toleration_s
    )
    s, t = result.series, result.series["t"]
    lost_window = (t >= 900) & (t < 900 + k.node_monitor_grace_period_s)
    assert s["failed_rps"][lost_window].sum() > 0  # traffic still routed to the lost pods
    later = t >= 900 + k.node_monitor_grace_period_s + 10
    assert s["failed_rps"][later].sum() == 0  # the survivors carry it
    end = t >= shape.duration_s - 60
    for service in cluster.services:
        assert s[f"serving:{service}"][end].min() >= cluster.services[service].hpa.min_replicas
    assert s["nodes:koreacentral-1"][end].max() == 0


def test_a_pool_too_small_and_an_hpa_at_its_maximum_are_reported(
    cluster: ClusterSpec, workload: Workload, assumptions: Assumptions
) -> None:
    small = replace(cluster, pool=replace(cluster.pool, max_count=6))
    result = simulate(small, workload.scaled(8.0), assumptions, constant(1000.0, hold_s=900.0))
    kinds = {e.kind for e in result.events}
    assert "hpa-max" in kinds and "pool-full" in kinds
    assert result.max_nodes == 6
    assert any("HPA wants more" in b for b in result.breaks)
    assert result.throughput_rps < result.offered_rps


def test_the_same_seed_gives_the_same_run(
    cluster: ClusterSpec, workload: Workload, assumptions: Assumptions
) -> None:
    runs = [
        Simulation(cluster, workload, assumptions, constant(300.0, 600.0), SimOptions(seed=5)).run()
        for _ in range(2)
    ]
    assert runs[0].general_p95_ms == runs[1].general_p95_ms
    assert (runs[0].series["desired:location"] == runs[1].series["desired:location"]).all()


def test_a_simulated_day_follows_the_daily_curve(
    cluster: ClusterSpec, workload: Workload, assumptions: Assumptions
) -> None:
    day = simulate(cluster, workload, assumptions, daily_shape(phase_of("prod"), assumptions))
    assert day.duration_s == 86400
    assert day.wall_s > 0  # recorded for the report and `nox -s capacity-day`
    # The pool follows the curve: more nodes than the minimum at the evening peak only.
    assert day.series["nodes"].min() == cluster.pool.min_count


def test_a_tick_that_does_not_divide_the_metrics_window_is_refused(
    cluster: ClusterSpec, workload: Workload, assumptions: Assumptions
) -> None:
    # 10 s ticks in 15 s windows: the HPA would read 20 s of CPU one window and 10 s the next.
    with pytest.raises(ValueError, match="must divide the metrics window"):
        Simulation(cluster, workload, assumptions, constant(100.0), SimOptions(tick_s=10.0))

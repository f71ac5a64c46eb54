"""The request-level simulation: it reproduces Erlang C for a plain M/M/c queue, and the local
platform model obeys the operational laws it is validated with."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulation.capacity.des.requests import LocalModel, LocalSystem, RouteLoad, mmc_check
from simulation.capacity.localfit import StepSetup, errors, fit_offsets, local_system
from simulation.capacity.queueing import erlang_c, wait_quantile_s
from simulation.capacity.workload import Workload


@pytest.mark.parametrize(("servers", "arrivals"), [(1, 0.7), (2, 1.5), (4, 3.0)])
def test_simulated_mmc_queue_matches_erlang_c(servers: int, arrivals: float) -> None:
    mean, p95 = mmc_check(servers, arrivals, 1.0, customers=30_000)
    expected_mean = erlang_c(servers, arrivals) / (servers - arrivals)
    assert mean == pytest.approx(expected_mean, rel=0.12)
    assert p95 == pytest.approx(wait_quantile_s(servers, arrivals, 1.0, 0.95), rel=0.12)


def _system(users: int, cores: int = 2) -> LocalSystem:
    return LocalSystem(
        cores=cores,
        replicas={"location": 2, "user": 1},
        routes=(
            RouteLoad("GET /api/locations/places/nearby", "location", 0.7, 0.004),
            RouteLoad("GET /api/users/me", "user", 0.3, 0.003),
        ),
        users=users,
        think_s=1.0,
        nginx_s=0.0004,
        postgres_s=0.001,
        redis_s=0.0002,
        loadgen_s=0.001,
    )


def test_local_model_obeys_the_utilisation_and_response_time_laws() -> None:
    prediction = LocalModel(_system(20)).run(60.0)
    x = prediction.throughput_rps
    # Closed loop (interactive response time law): X = N / (Z + R), R ≈ 0 at this load.
    assert x == pytest.approx(20 / (1.0 + prediction.mean_ms / 1000), rel=0.08)
    # Utilisation law per process group: U = X × D.
    assert prediction.cpu_cores["location"] == pytest.approx(x * 0.7 * 0.004, rel=0.1)
    assert prediction.cpu_cores["user"] == pytest.approx(x * 0.3 * 0.003, rel=0.15)
    assert prediction.cpu_cores["nginx"] == pytest.approx(x * 0.0004, rel=0.1)


def test_contention_on_fewer_cores_raises_latency() -> None:
    quiet = LocalModel(_system(20, cores=4)).run(40.0)
    busy = LocalModel(_system(20, cores=1)).run(40.0)
    assert busy.mean_ms > quiet.mean_ms
    # A background load holding a core makes the same requests slower still.
    loaded = LocalModel(replace_background(_system(20, cores=1), 0.6)).run(40.0)
    assert loaded.mean_ms > busy.mean_ms


def replace_background(system: LocalSystem, cores: float) -> LocalSystem:
    return replace(system, background_cores=cores)


def test_other_runnable_tasks_take_what_the_requests_leave() -> None:
    # Two always-runnable other tasks on one core: the requests' short bursts wake ahead of
    # them (stretched a little, by the turns they queue behind each other's), and the others
    # use the rest of the core.
    alone = LocalModel(_system(5, cores=1)).run(40.0)
    crowded = LocalModel(replace(_system(5, cores=1), background_tasks=2.0)).run(40.0)
    assert alone.mean_ms < crowded.mean_ms < 2 * alone.mean_ms
    assert crowded.cpu_cores["background"] == pytest.approx(1.0, abs=0.15)
    # One task runnable half the time uses about half the core.
    half = LocalModel(replace(_system(5, cores=1), background_tasks=0.5)).run(40.0)
    assert half.cpu_cores["background"] == pytest.approx(0.5, abs=0.1)


def test_offsets_fit_the_calibration_step_and_errors_are_signed(workload: Workload) -> None:
    replicas = {"location": 2, "user": 3, "trip": 3, "ai": 2}
    setup = StepSetup(users=20, replicas=replicas, duration_s=30.0)
    # No planner: the synthetic mix's schedule requests would each start a generation.
    system = local_system(workload, setup, cores=2, background_cores=0.1, planner=(0, 0.0))
    offsets = fit_offsets(system, workload, 30.0)
    assert set(offsets) == {r.name for r in workload.routes}
    assert all(v >= 0 for v in offsets.values())
    fitted = LocalModel(local_system(workload, setup, 2, 0.1, offsets, (0, 0.0))).run(30.0)
    nearby = "GET /api/locations/places/nearby"
    assert fitted.route_mean_ms[nearby] == pytest.approx(10.0, rel=0.25)  # measured mean 10 ms
    assert errors({"throughput": 11.0}, {"throughput": 10.0}) == {"throughput": pytest.approx(0.1)}


def test_waking_requests_go_ahead_of_a_task_that_stays_runnable() -> None:
    # The fair scheduler places a waking task at most a few ms behind the least-served one, so
    # an always-runnable task on the only core stretches the requests' short bursts far less
    # than a round robin (2×) would, and still gets what the requests leave of the core.
    alone = LocalModel(_system(5, cores=1)).run(40.0)
    beside_hog = LocalModel(replace(_system(5, cores=1), background_tasks=1.0)).run(40.0)
    assert beside_hog.mean_ms < 1.5 * alone.mean_ms
    assert beside_hog.cpu_cores["background"] > 0.8

"""A replica's fixed cost under load, separated from its cost per request by two load steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from runs.results import LoadResults
from simulation.capacity.fixedcost import api_throughput, loaded_fixed_cores
from simulation.capacity.validate import MeasuredStep, fixed_cost_extras, main_calibration
from simulation.capacity.workload import StepExtras, calibrate_workload
from tests.simulation.capacity.helpers import measured


def _step(scale: float, cpu: dict[str, float]) -> LoadResults:
    """`measured()` with its request counts × `scale` and the given CPU-seconds (100 s)."""
    results = measured(cpu)
    endpoints = [
        e.model_copy(update={"requests": round(e.requests * scale)}) for e in results.endpoints
    ]
    return results.model_copy(update={"endpoints": endpoints})


def _cpu(rps: float, fixed_per_replica: float, per_request_s: float) -> float:
    """CPU-seconds over the 100 s steps of two replicas: U = R·u₀ + X·D."""
    return (2 * fixed_per_replica + rps * per_request_s) * 100


def test_two_steps_recover_the_fixed_cost_and_the_cost_per_request() -> None:
    # location: 0.02 cores per replica under load (idle 0.005) and 2 ms per API request.
    low, high = 0.5, 1.0
    x_low = api_throughput(_step(low, {}))
    x_high = api_throughput(_step(high, {}))
    assert x_high == pytest.approx(2 * x_low, rel=0.01)
    steps = [
        _step(scale, {"location": _cpu(x, 0.02, 0.002), "nginx": _cpu(x, 0.0, 0.0003) / 2})
        for scale, x in ((low, x_low), (high, x_high))
    ]
    fixed = loaded_fixed_cores(steps[0], steps[1], {"location": 0.005, "user": 0.004})
    assert fixed is not None
    assert fixed["location"] == pytest.approx(0.02, rel=1e-6)
    assert fixed["nginx"] == pytest.approx(0.0, abs=1e-9)  # nothing fixed: no floor to lift it
    assert fixed["user"] == 0.004  # not measured in both steps: its idle CPU stays
    # The workload then charges the requests only their marginal CPU.
    workload = calibrate_workload(steps[1], StepExtras(idle_cores=fixed))
    location_requests = sum(e.requests for e in steps[1].endpoints if "locations" in e.name)
    assert workload.service_demand_s["location"] == pytest.approx(
        0.002 * x_high * 100 / location_requests, rel=1e-6
    )


def test_the_fit_never_goes_below_idle_nor_leaves_requests_free() -> None:
    x = api_throughput(_step(1.0, {}))
    # CPU that falls with load would fit a negative cost per request; the floor is idle.
    low = _step(0.5, {"location": 10.0})
    high = _step(1.0, {"location": 9.0})
    fixed = loaded_fixed_cores(low, high, {"location": 0.01})
    assert fixed is not None
    # The whole lighter step's CPU would be fixed: capped so requests still cost 10 % of it.
    assert fixed["location"] == pytest.approx(0.9 * 10.0 / 100 / 2)
    steep = _step(1.0, {"location": _cpu(x, 0.0, 0.01)})
    fixed = loaded_fixed_cores(_step(0.5, {"location": _cpu(x / 2, 0.0, 0.01)}), steep, {})
    assert fixed is not None and fixed["location"] == pytest.approx(0.0, abs=1e-9)


def test_steps_too_close_in_throughput_do_not_carry_the_fit() -> None:
    assert loaded_fixed_cores(_step(0.9, {}), _step(1.0, {}), {"location": 0.01}) is None


def _measured_step(tmp_path: Path, name: str, role: str, users: int, scale: float) -> MeasuredStep:
    x = api_throughput(_step(scale, {}))
    cpu = {"location": _cpu(x, 0.02, 0.002), "user": _cpu(x, 0.004, 0.001), "nginx": 2.0 * scale}
    path = _step(scale, cpu).save(tmp_path / f"{name}.json")
    return MeasuredStep(name, role, users, path, StepExtras(idle_cores={"location": 0.005}))


def test_the_validation_calibrates_on_the_busiest_step_with_the_lighter_one_fitting_fixed_costs(
    tmp_path: Path,
) -> None:
    steps = [
        _measured_step(tmp_path, "lighter", "calibration", 20, 0.5),
        _measured_step(tmp_path, "calibration", "calibration", 40, 1.0),
        _measured_step(tmp_path, "held-out", "held-out", 80, 1.0),
    ]
    assert main_calibration(steps).name == "calibration"
    said: list[str] = []
    extras = fixed_cost_extras(steps, steps[1], said.append)
    assert extras.idle_cores["location"] == pytest.approx(0.02, rel=1e-6)
    assert "location 0.020 (0.005)" in said[0]
    # Without a lighter step the measured idle CPU stays, and the log says so.
    said.clear()
    alone = fixed_cost_extras(steps[1:], steps[1], said.append)
    assert alone.idle_cores == {"location": 0.005}
    assert "idle CPU used" in said[0]

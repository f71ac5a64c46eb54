"""The planner pool's warm-up: it loads OR-Tools in each process and never blocks start-up."""

from __future__ import annotations

import pytest

from services.ai import planner_pool
from services.ai.planner.errors import SolverTimeout


def test_a_warm_up_plan_that_times_out_does_not_stop_the_service(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def starved(*_: object, **__: object) -> None:
        raise SolverTimeout("no itinerary found within 2 s for 1 candidates over 1 days")

    monkeypatch.setattr(planner_pool, "plan_itinerary", starved)
    assert planner_pool._warm_up() > 0
    assert "warm-up plan did not finish" in caplog.text


def test_the_warm_up_plans_for_real() -> None:
    assert planner_pool._warm_up() > 0

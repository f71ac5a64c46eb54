"""Between cases the benchmark waits for the deployment to return to idle, and says so when it
does not (without a deployment: the meter is replaced by a scripted one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scenarios.bench import measure


@dataclass
class _Usage:
    cpu_seconds: float


@dataclass
class _Report:
    resource_usage: dict[str, _Usage]


@dataclass
class _ScriptedMeter:
    """Each window reports the next busy rate (cores), then stays at the last one."""

    rates: list[float]
    window_s: float
    reported: list[float] = field(default_factory=list)

    def __call__(self, *_: Any) -> _ScriptedMeter:
        return self

    def start(self) -> _ScriptedMeter:
        return self

    def stop(self) -> _Report:
        rate = self.rates[min(len(self.reported), len(self.rates) - 1)]
        self.reported.append(rate)
        # Spread over two processes, as the deployment's classes are.
        cpu = rate * self.window_s
        return _Report({"trip": _Usage(cpu * 0.75), "postgresql": _Usage(cpu * 0.25)})


@pytest.fixture
def short_windows(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(measure, "SETTLE_WINDOW_S", 0.02)
    monkeypatch.setattr(measure, "SETTLE_MAX_S", 0.3)
    return 0.02


def _settle(monkeypatch: pytest.MonkeyPatch, meter: _ScriptedMeter, tmp: Path) -> measure.Settled:
    monkeypatch.setattr(measure, "UsageMeter", meter)
    deployment: Any = type("Deployment", (), {"platform": None, "endpoints": None})()
    return measure.settle(deployment, {"trip": 0.02, "postgresql": 0.03}, tmp)


def test_it_waits_until_the_previous_cases_work_is_done(
    monkeypatch: pytest.MonkeyPatch, short_windows: float, tmp_path: Path
) -> None:
    # Idle is 0.05 cores; the margin 0.05: 0.6 and 0.3 cores are still the last case's work.
    meter = _ScriptedMeter([0.6, 0.3, 0.08], short_windows)
    settled = _settle(monkeypatch, meter, tmp_path)
    assert settled.busy_cores is None
    assert len(meter.reported) == 3


def test_a_deployment_that_stays_busy_is_reported_not_waited_for_forever(
    monkeypatch: pytest.MonkeyPatch, short_windows: float, tmp_path: Path
) -> None:
    meter = _ScriptedMeter([0.5], short_windows)
    settled = _settle(monkeypatch, meter, tmp_path)
    assert settled.busy_cores == pytest.approx(0.45, abs=0.05)  # 0.5 less idle (0.05)
    assert settled.waited_s >= 0.3


def test_what_the_case_says_about_the_wait() -> None:
    assert measure.Settled(0.5, None).notes() == []
    assert measure.Settled(12.2, None).notes() == [
        "waited 12 s for the previous case's queued work to finish"
    ]
    assert "still busy after 30 s (0.45 cores above idle)" in measure.Settled(30.0, 0.45).notes()[0]

"""The failure-rate circuit breaker (SPEC.md › Circuit breaker: > 50% → open, half-open after
5 min), on a fake clock."""

from __future__ import annotations

import pytest

from services.ai.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **overrides: float) -> CircuitBreaker:
    options: dict[str, float] = {"window": 10, "min_calls": 4, "reset_s": 300.0, **overrides}
    return CircuitBreaker(
        failure_rate=0.5,
        window=int(options["window"]),
        min_calls=int(options["min_calls"]),
        reset_s=options["reset_s"],
        clock=clock,
    )


def call(b: CircuitBreaker, *, failed: bool) -> bool:
    """One call through the breaker; False when it was refused."""
    permit = b.acquire()
    if permit is None:
        return False
    b.record(permit, failed=failed)
    return True


def test_it_stays_closed_until_the_minimum_number_of_calls() -> None:
    b = breaker(Clock())
    for _ in range(3):
        assert call(b, failed=True)
    assert b.state is BreakerState.CLOSED
    assert call(b, failed=True)
    assert b.state is BreakerState.OPEN


def test_it_opens_above_half_failures_not_at_exactly_half() -> None:
    b = breaker(Clock())
    for failed in (False, True, False, True, False, True):
        assert call(b, failed=failed)
    assert b.current_failure_rate() == 0.5
    assert b.state is BreakerState.CLOSED  # SPEC.md: "> 50%"
    call(b, failed=True)  # 4 of 7
    assert b.state is BreakerState.OPEN


def test_the_window_rolls_so_old_failures_stop_counting() -> None:
    b = breaker(Clock(), window=4, min_calls=4)
    for failed in (True, True, False, False):  # 50%: closed
        call(b, failed=failed)
    for _ in range(2):  # the two failures roll out
        call(b, failed=False)
    assert b.current_failure_rate() == 0.0
    call(b, failed=True)
    call(b, failed=True)  # 2 of the last 4: still closed
    assert b.state is BreakerState.CLOSED
    call(b, failed=True)  # 3 of the last 4
    assert b.state is BreakerState.OPEN


def test_open_refuses_then_half_opens_after_the_reset_time_and_a_good_trial_closes() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        call(b, failed=True)
    assert b.acquire() is None
    clock.now += 299
    assert b.acquire() is None
    clock.now += 1
    assert b.state is BreakerState.HALF_OPEN
    trial = b.acquire()
    assert trial is not None and trial.trial
    assert b.acquire() is None  # one trial at a time
    b.record(trial, failed=False)
    assert b.state is BreakerState.CLOSED
    assert b.current_failure_rate() == 0.0  # a fresh window
    assert call(b, failed=True)
    assert b.state is BreakerState.CLOSED


def test_a_failed_trial_opens_it_again_for_another_reset_time() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        call(b, failed=True)
    clock.now += 300
    assert call(b, failed=True)  # the trial
    assert b.state is BreakerState.OPEN
    clock.now += 299
    assert b.acquire() is None
    clock.now += 1
    assert b.acquire() is not None


def test_outcomes_of_calls_from_before_a_state_change_are_ignored() -> None:
    clock = Clock()
    b = breaker(clock)
    slow = b.acquire()  # a call still in flight while others trip the breaker
    assert slow is not None
    for _ in range(4):
        call(b, failed=True)
    clock.now += 300
    trial = b.acquire()
    assert trial is not None
    b.record(slow, failed=True)  # late, and about the old state: ignored
    assert b.state is BreakerState.HALF_OPEN
    b.record(trial, failed=False)
    assert b.state is BreakerState.CLOSED


def test_state_changes_are_reported() -> None:
    clock = Clock()
    seen: list[BreakerState] = []
    b = CircuitBreaker(min_calls=1, window=1, reset_s=1, clock=clock, on_change=seen.append)
    call(b, failed=True)
    clock.now += 1
    call(b, failed=False)
    assert seen == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


@pytest.mark.parametrize(
    "options",
    [{"failure_rate": 0.0}, {"failure_rate": 1.0}, {"window": 0}, {"trial_calls": 0}],
)
def test_nonsense_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker(**options)  # type: ignore[arg-type]

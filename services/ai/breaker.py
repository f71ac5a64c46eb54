"""A circuit breaker on the failure *rate* over a rolling window of calls, for asyncio callers.

SPEC.md › Circuit breaker: "external API failure rate > 50% → open, fallback logic, half-open
after 5 min". The usual Python libraries (pybreaker, aiobreaker, purgatory, circuitbreaker) open
after N *consecutive* failures, which is a different rule (a 60% failure rate with successes
interleaved never trips them), so this small class implements the rate rule:

- closed: calls pass; the outcomes of the last `window` calls are kept; once at least
  `min_calls` are kept and the share of failures exceeds `failure_rate`, the breaker opens.
- open: calls are refused (the caller falls back) until `reset_s` has passed.
- half-open: `trial_calls` calls pass; if they all succeed the breaker closes with an empty
  window, the first failure opens it again for another `reset_s`.

Outcomes of calls let through in an earlier state (still in flight when the state changed) are
ignored: they say nothing about the endpoint since the last decision.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call; hand it back with the call's outcome."""

    epoch: int
    trial: bool


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_rate: float = 0.5,
        window: int = 20,
        min_calls: int = 10,
        reset_s: float = 300.0,
        trial_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if not 0 < failure_rate < 1:
            raise ValueError("failure_rate must be between 0 and 1")
        if min_calls < 1 or window < 1 or trial_calls < 1:
            raise ValueError("window, min_calls and trial_calls must be at least 1")
        self.failure_rate = failure_rate
        self.window = window
        self.min_calls = min(min_calls, window)
        self.reset_s = reset_s
        self.trial_calls = trial_calls
        self.clock = clock  # public so a test can move time forward
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._outcomes: deque[bool] = deque(maxlen=window)  # True = failure
        self._epoch = 0  # bumped on every state change
        self._opened_at = 0.0
        self._trials_issued = 0
        self._trials_passed = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.reset_s:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def current_failure_rate(self) -> float:
        return sum(self._outcomes) / len(self._outcomes) if self._outcomes else 0.0

    def acquire(self) -> Permit | None:
        """A permit to call, or None when the caller must fall back without calling."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(self._epoch, trial=False)
        if state is BreakerState.HALF_OPEN and self._trials_issued < self.trial_calls:
            self._trials_issued += 1
            return Permit(self._epoch, trial=True)
        return None

    def record(self, permit: Permit, *, failed: bool) -> None:
        if permit.epoch != self._epoch:
            return  # issued before the last state change
        if permit.trial:
            if failed:
                self._open()
            else:
                self._trials_passed += 1
                if self._trials_passed >= self.trial_calls:
                    self._outcomes.clear()
                    self._move(BreakerState.CLOSED)
            return
        self._outcomes.append(failed)
        if (
            len(self._outcomes) >= self.min_calls
            and self.current_failure_rate() > self.failure_rate
        ):
            self._open()

    def _open(self) -> None:
        self._opened_at = self.clock()
        self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        self._state = state
        self._epoch += 1
        self._trials_issued = 0
        self._trials_passed = 0
        if self._on_change is not None:
            self._on_change(state)

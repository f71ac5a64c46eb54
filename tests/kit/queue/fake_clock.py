"""A clock for tests that move time forward (message TTL is 14 days)."""

from __future__ import annotations


class FakeClock:
    """Epoch seconds that only move when told to; pass it as `QueueOptions(clock=…)`."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

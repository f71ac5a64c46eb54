"""Argument types for the load and bench commands, and the laptop-sized default scale."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from scenarios.load.locustfiles.settings import JourneySettingsError, parse_wait


@dataclass(frozen=True)
class Scale:
    users: int
    duration_s: float


# Every new user signs up and logs in: two argon2 hashes of ~30 ms CPU each. Arriving at 2 a
# second keeps that near a tenth of a core; a burst would make the ramp, not the steady state,
# set the run's p95 on a 2-core machine.
DEFAULT_SPAWN_RATE = 2.0
# Laptop-sized defaults per deployed profile: SPEC.md's dev target is 6 concurrent users; prod
# runs 50 users — enough to exercise every route concurrently, not the 50,000 of SPEC.md.
DEFAULT_SCALE = {"dev": Scale(users=6, duration_s=60.0), "prod": Scale(users=50, duration_s=120.0)}


_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """ "2m" → 120, "1m30s" → 90, "45s" or "45" → 45, "1h" → 3600."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or match is None:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use e.g. 45s, 2m, 1m30s or 1h (or plain seconds)"
        )
    seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + float(match["s"] or 0.0)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration {text!r} must be longer than 0 s")
    return seconds


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def wait_range(text: str) -> tuple[float, float]:
    try:
        return parse_wait(text)
    except JourneySettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

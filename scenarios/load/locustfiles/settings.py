"""Knobs of the journeys, read from the environment (locust runs them in its own process).

TRIPGEN_JOURNEY_WAIT_S             think time between tasks, "MIN,MAX" seconds or one number
                                   (default "1,3": a person reading a screen; "0" is the
                                   zero-wait benchmark, which needs the rate limit off)
TRIPGEN_JOURNEY_ITINERARY_EVERY_S  one traveller requests at most one itinerary per this
                                   many seconds (default 0: only the task weight decides)
TRIPGEN_JOURNEY_AI_DEADLINE_S      how long a traveller waits for an itinerary (default 30)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WAIT_ENV = "TRIPGEN_JOURNEY_WAIT_S"
ITINERARY_EVERY_ENV = "TRIPGEN_JOURNEY_ITINERARY_EVERY_S"
AI_DEADLINE_ENV = "TRIPGEN_JOURNEY_AI_DEADLINE_S"
ACCOUNTS_ENV = "TRIPGEN_JOURNEY_ACCOUNTS"
# The benchmark's per-route users (bench_routes.py) read their accounts and bodies from here.
BENCH_FIXTURE_ENV = "TRIPGEN_BENCH_FIXTURE"


class JourneySettingsError(ValueError):
    """A knob's value cannot be used (the message names the variable)."""


def parse_wait(text: str) -> tuple[float, float]:
    """ "1,3" → (1.0, 3.0); "0" → (0.0, 0.0)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise JourneySettingsError(
            f"wait must be MIN,MAX or one number of seconds, got {text!r}"
        ) from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or not all(math.isfinite(v) and v >= 0 for v in values):
        raise JourneySettingsError(f"wait must be MIN,MAX with 0 ≤ MIN ≤ MAX, got {text!r}")
    low, high = values
    if low > high:
        raise JourneySettingsError(f"wait MIN must not exceed MAX, got {text!r}")
    return low, high


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise JourneySettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise JourneySettingsError(f"{name} must be ≥ 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class JourneySettings:
    wait_s: tuple[float, float] = (1.0, 3.0)
    itinerary_every_s: float = 0.0
    ai_deadline_s: float = 30.0
    accounts_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JourneySettings:
        env = os.environ if env is None else env
        wait = env.get(WAIT_ENV)
        try:
            wait_s = parse_wait(wait) if wait else cls.wait_s
        except JourneySettingsError as exc:
            raise JourneySettingsError(f"{WAIT_ENV}: {exc}") from None
        deadline = _seconds(env, AI_DEADLINE_ENV, cls.ai_deadline_s)
        if deadline <= 0:
            raise JourneySettingsError(f"{AI_DEADLINE_ENV} must be > 0")
        return cls(
            wait_s=wait_s,
            itinerary_every_s=_seconds(env, ITINERARY_EVERY_ENV, cls.itinerary_every_s),
            ai_deadline_s=deadline,
            accounts_file=env.get(ACCOUNTS_ENV) or None,
        )

    def environment(self) -> dict[str, str]:
        """These settings as the variables a locust child process reads."""
        env = {
            WAIT_ENV: f"{self.wait_s[0]:g},{self.wait_s[1]:g}",
            ITINERARY_EVERY_ENV: f"{self.itinerary_every_s:g}",
            AI_DEADLINE_ENV: f"{self.ai_deadline_s:g}",
        }
        if self.accounts_file:
            env[ACCOUNTS_ENV] = self.accounts_file
        return env

    def accounts(self) -> list[dict[str, str]]:
        """The pre-made accounts, or [] when travellers sign up themselves."""
        if not self.accounts_file:
            return []
        try:
            data = json.loads(Path(self.accounts_file).read_text(encoding="utf-8"))
            accounts = [a for a in data["accounts"] if a.get("email") and a.get("password")]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise JourneySettingsError(f"{ACCOUNTS_ENV}={self.accounts_file}: {exc}") from exc
        if not accounts:
            raise JourneySettingsError(f"{ACCOUNTS_ENV}={self.accounts_file} holds no accounts")
        return accounts

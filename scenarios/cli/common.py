"""What every load command shares: the consoles, the harness error, where the journeys live and
the figures a run is sized by."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

REPO_ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = REPO_ROOT / "scenarios" / "load" / "locustfiles" / "journeys.py"
QUICK_DURATION_S = 45.0
UI_ADDRESS = ("127.0.0.1", 8089)
RATE_LIMIT_PER_MINUTE = 100  # SPEC.md (002): per user; the services' default

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


class HarnessError(RuntimeError):
    """The run could not be made or judged; the message says what to do (exit 2)."""

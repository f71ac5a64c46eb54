"""Run folders: `<runs_root>/<UTC stamp>-<profile>/`, each holding one run's results JSON and
its side files (see `runs.results`). Load, chaos, bench and the capacity model find runs here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from runs.results import RESULTS_FILE

RUNS_ROOT = Path(".tripgen/runs")


class RunFolderError(RuntimeError):
    """No run folder could be made."""


def new_run_dir(profile: str, runs_root: Path = RUNS_ROOT) -> Path:
    """A fresh `<runs_root>/<UTC stamp>-<profile>` folder (suffixed if the second is taken)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        candidate = runs_root / (f"{stamp}-{profile}" + (f"-{attempt}" if attempt else ""))
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise RunFolderError(f"no free run folder for {stamp}-{profile} under {runs_root}")


def latest_results(profile: str | None = None, runs_root: Path = RUNS_ROOT) -> Path | None:
    """The newest run's results JSON (optionally of one profile), or None."""
    pattern = f"*-{profile}*/{RESULTS_FILE}" if profile else f"*/{RESULTS_FILE}"
    found = sorted(runs_root.glob(pattern), key=lambda p: p.parent.name)
    return found[-1] if found else None

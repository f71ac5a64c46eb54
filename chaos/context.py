"""Where an experiment runs: the deployment (platform, profile, base URL) and the run folder.

Every provider takes chaostoolkit's `configuration` and turns it into a `ChaosContext` here, so
one experiment file runs on `local` and `kind` and from `chaos run` as well as from
`chaos.runner`. The configuration keys (all optional; the runner sets them):

    platform   local | kind — default: the deployment recorded in state.json
    profile    dev | prod — default: the deployment's profile
    base_url   the front door — default: the deployment's base_url
    state_dir  the platform run directory holding state.json — default `.tripgen/`
    run_dir    the results folder chaos events, traffic and journals go to — default
               `$TRIPGEN_CHAOS_RUN_DIR`, else `.tripgen/runs/chaos-adhoc`
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulation.platforms import Platform, open_platform
from simulation.platforms.base import NotDeployed
from simulation.state import DeploymentState, load_state, run_dir

RUN_DIR_ENV = "TRIPGEN_CHAOS_RUN_DIR"
ADHOC_RUN = "chaos-adhoc"
RUNS_FOLDER = "runs"

Configuration = dict[str, Any]


@dataclass(frozen=True)
class ChaosContext:
    platform: str
    profile: str
    base_url: str
    state_dir: Path
    run_dir: Path

    def open_platform(self) -> Platform:
        return open_platform(self.platform, directory=self.state_dir)


def _text(configuration: Configuration | None, key: str) -> str:
    value = (configuration or {}).get(key)
    return str(value).strip() if value not in (None, "") else ""


def deployment(state_dir: Path) -> DeploymentState:
    state = load_state(state_dir)
    if state is None:
        raise NotDeployed(
            f"nothing is deployed (no {state_dir / 'state.json'}); deploy first "
            "(`nox -s deploy-prod-sim`) or run chaos with --deploy"
        )
    return state


def chaos_run_dir(configuration: Configuration | None, state_dir: Path) -> Path:
    explicit = _text(configuration, "run_dir") or os.environ.get(RUN_DIR_ENV, "")
    folder = Path(explicit) if explicit else state_dir / RUNS_FOLDER / ADHOC_RUN
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def context_from(configuration: Configuration | None) -> ChaosContext:
    """The context for `configuration`; missing keys come from the recorded deployment."""
    state_text = _text(configuration, "state_dir")
    state_dir = run_dir(Path(state_text) if state_text else None)
    platform = _text(configuration, "platform")
    profile = _text(configuration, "profile")
    base_url = _text(configuration, "base_url")
    if not (platform and profile and base_url):
        state = deployment(state_dir)
        platform = platform or state.platform
        profile = profile or state.profile
        base_url = base_url or state.base_url
    return ChaosContext(
        platform=platform,
        profile=profile,
        base_url=base_url.rstrip("/"),
        state_dir=state_dir,
        run_dir=chaos_run_dir(configuration, state_dir),
    )

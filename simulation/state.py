"""The run directory (`.tripgen/`, git-ignored) and the deployment record in `state.json`.

`state.json` is what lets `status`, `down`, the load and chaos sessions — each a new process, often
from another shell — find the deployment a `deploy` left running. Its top level is flat and stable
(other parts read it): `platform`, `profile`, `base_url`, `services` (service → URL it is routed
at), `created_at`; platform-specific details live under `details`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_DIR_ENV = "TRIPGEN_RUN_DIR"
STATE_FILE = "state.json"


def run_dir(explicit: Path | None = None) -> Path:
    """`explicit`, else `$TRIPGEN_RUN_DIR`, else `<repo>/.tripgen` (created if absent)."""
    path = explicit or Path(os.environ.get(RUN_DIR_ENV) or REPO_ROOT / ".tripgen")
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


class StateError(RuntimeError):
    """`state.json` exists but cannot be read as a deployment record."""


@dataclass
class DeploymentState:
    platform: str
    profile: str
    base_url: str
    services: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    details: dict[str, Any] = field(default_factory=dict)


def state_path(directory: Path) -> Path:
    return directory / STATE_FILE


def load_state(directory: Path) -> DeploymentState | None:
    """The recorded deployment, or None when nothing is deployed."""
    path = state_path(directory)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise StateError(f"{path} is unreadable ({exc}); remove it if nothing is running") from exc
    try:
        return DeploymentState(
            platform=raw["platform"],
            profile=raw["profile"],
            base_url=raw["base_url"],
            services=dict(raw.get("services", {})),
            created_at=float(raw.get("created_at", 0.0)),
            details=dict(raw.get("details", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"{path} is not a deployment record (missing {exc})") from exc


def save_state(directory: Path, state: DeploymentState) -> Path:
    """Write atomically (temp file + rename), so a reader never sees half a record."""
    path = state_path(directory)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.chmod(0o600)  # it holds the deployment's JWT secret
    tmp.replace(path)
    return path


def clear_state(directory: Path) -> None:
    state_path(directory).unlink(missing_ok=True)

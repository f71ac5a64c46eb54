"""The gate file `.tripgen/gate/<profile>.json` that `nox -s deploy-aks` reads before it pushes.

Written by `scenarios.sla.report.write_report` after an sla-check; `read_gate(profile)` is all a
reader needs. Fields: profile, passed, report (markdown), report_html, results (JSON), the git
commit and whether the tree had uncommitted changes, timestamp (UTC), platform, the NO-DATA
policy, counts of gating verdicts, the ids that kept the gate closed and the ids whose verdict
was modelled (the capacity simulation) rather than measured.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, Field

GATE_DIR = Path(".tripgen/gate")


class Gate(BaseModel):
    profile: str
    passed: bool
    report: str
    report_html: str
    results: str
    git_commit: str | None
    git_dirty: bool | None = None
    timestamp: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    platform: str
    no_data_policy: str
    counts: dict[str, int]
    blocking: list[str] = Field(default_factory=list, description="objective ids that closed it")
    modelled: list[str] = Field(
        default_factory=list,
        description="gating objective ids judged by the capacity simulation, not measured",
    )


def _git(*args: str, cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(cwd: Path | None = None) -> tuple[str | None, bool | None]:
    """(HEAD commit, tree has uncommitted changes); (None, None) outside a repository or
    before the first commit."""
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit is None:
        return None, None
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return commit, (bool(status) if status is not None else None)


def gate_path(profile: str, root: Path = GATE_DIR) -> Path:
    return root / f"{profile}.json"


def write_gate(gate: Gate, root: Path = GATE_DIR) -> Path:
    path = gate_path(gate.profile, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(gate.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)  # deploy-aks must never read half a gate
    return path


def read_gate(profile: str, root: Path = GATE_DIR) -> Gate:
    """The last gate written for `profile`; FileNotFoundError when sla-check never ran."""
    return Gate.model_validate_json(gate_path(profile, root).read_text(encoding="utf-8"))

"""`.tripgen/state.json`: the record `status`, `down`, load and chaos find a deployment by."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from simulation.state import (
    RUN_DIR_ENV,
    DeploymentState,
    StateError,
    clear_state,
    load_state,
    run_dir,
    save_state,
    state_path,
)


def test_round_trip_keeps_the_flat_top_level_others_read(tmp_path: Path) -> None:
    state = DeploymentState(
        platform="local",
        profile="prod",
        base_url="http://127.0.0.1:8081",
        services={"user": "http://127.0.0.1:8081"},
        details={"plan": {"run_id": "abc"}},
    )
    save_state(tmp_path, state)
    raw = json.loads(state_path(tmp_path).read_text())
    assert raw["platform"] == "local"
    assert raw["profile"] == "prod"
    assert raw["base_url"] == "http://127.0.0.1:8081"
    assert load_state(tmp_path) == state


def test_state_file_is_private_and_written_atomically(tmp_path: Path) -> None:
    save_state(tmp_path, DeploymentState("local", "dev", "http://x"))
    mode = stat.S_IMODE(state_path(tmp_path).stat().st_mode)
    assert mode == 0o600  # holds the deployment's JWT secret
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_state_means_nothing_deployed(tmp_path: Path) -> None:
    assert load_state(tmp_path) is None
    clear_state(tmp_path)  # clearing nothing is fine


@pytest.mark.parametrize("content", ["{not json", '{"platform": "local"}'])
def test_unreadable_state_is_a_clear_error(tmp_path: Path, content: str) -> None:
    state_path(tmp_path).write_text(content)
    with pytest.raises(StateError, match=r"state\.json"):
        load_state(tmp_path)


def test_run_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path / "runs"))
    assert run_dir() == (tmp_path / "runs").resolve()
    assert (tmp_path / "runs").is_dir()
    assert run_dir(tmp_path / "explicit") == (tmp_path / "explicit").resolve()

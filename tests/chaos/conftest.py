"""Chaos providers against the in-memory platform: `configuration` names everything, so no
state.json is read, and `ChaosContext.open_platform` hands out the fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaos import context as chaos_context
from tests.chaos.fake_platform import FakePlatform


@pytest.fixture
def fake_platform(monkeypatch: pytest.MonkeyPatch) -> FakePlatform:
    platform = FakePlatform()
    monkeypatch.setattr(chaos_context, "open_platform", lambda *_a, **_k: platform)
    monkeypatch.setattr("chaos.providers.recovery.POLL_S", 0.0)
    return platform


@pytest.fixture
def configuration(tmp_path: Path, fake_platform: FakePlatform) -> dict[str, Any]:
    return {
        "platform": "local",
        "profile": "prod",
        "base_url": "http://127.0.0.1:9",
        "state_dir": str(tmp_path / "state"),
        "run_dir": str(tmp_path / "run"),
    }

"""Chaos providers against the in-memory platform: `configuration` names everything, so no
state.json is read, and `ChaosContext.open_platform` hands out the fake. And the one real prod
simulation the end-to-end chaos tests share (deployed once for the package: 20 s cold)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chaos import context as chaos_context
from chaos.fake_llm import ChaosLLM
from chaos.llm_env import LLM_ENV
from simulation.backing import BinariesMissingError, ensure_binaries, ensure_tools, is_ci
from simulation.backing.binaries import HA_TOOLS, MONITORING_TOOLS
from simulation.platforms.local import LocalPlatform
from simulation.platforms.nginx import NginxMissing, find_nginx
from tests.chaos.fake_platform import FakePlatform


@pytest.fixture(scope="package")
def prod_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """prod deployed on local (HA data stores, Prometheus) next to a chaos LLM endpoint; its
    run directory. Missing parts are installed; in CI one that cannot be is a failure."""
    try:
        ensure_binaries()
        ensure_tools((*HA_TOOLS, *MONITORING_TOOLS, "iptables"), why="the chaos e2e tests")
        find_nginx()
    except (BinariesMissingError, NginxMissing) as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    state_dir = tmp_path_factory.mktemp("chaos-state")
    llm = ChaosLLM().start()
    platform = LocalPlatform(
        state_dir, console=Console(stderr=True), extra_env={LLM_ENV: llm.base_url}
    )
    try:
        platform.deploy("prod")
        print(f"\n[prod-sim] cold deploy {platform.last_deploy_s:.1f} s")
        yield state_dir
    finally:
        platform.down()
        llm.stop()


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

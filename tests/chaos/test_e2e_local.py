"""Experiments 1, 3 and 6 end to end on the local platform (issue 8 › CI): deploy prod with the
platform API, run kill-replica, redis-outage and poison-messages under background traffic,
check each journal's hypothesis held before and after, the queue accounting balances and the
run's results carry the chaos events with their recovery times; then `down`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from chaos.fake_llm import ChaosLLM
from chaos.llm_env import LLM_ENV
from chaos.runner import run_experiments
from runs.results import LoadResults
from simulation.backing import BinariesMissingError, ensure_binaries, is_ci
from simulation.platforms.local import LocalPlatform
from simulation.platforms.nginx import NginxMissing, find_nginx

pytestmark = pytest.mark.e2e

CI_EXPERIMENTS = ["kill-replica", "redis-outage", "poison-messages"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    try:
        ensure_binaries()
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
        yield state_dir
    finally:
        platform.down()
        llm.stop()


def test_experiments_1_3_6_hold_and_account(deployment: Path) -> None:
    outcomes = run_experiments(
        CI_EXPERIMENTS, profile="prod", platform="local", state_dir=deployment
    )
    by_name = {o.name: o for o in outcomes}
    assert list(by_name) == CI_EXPERIMENTS
    for outcome in outcomes:
        assert outcome.journal is not None
        journal = json.loads(outcome.journal.read_text())
        assert journal["status"] == "completed", (outcome.name, outcome.failed_activities)
        assert journal["steady_states"]["before"]["steady_state_met"], outcome.failed_probes
        assert journal["steady_states"]["after"]["steady_state_met"], outcome.failed_probes
        assert outcome.ok, (outcome.failed_probes, outcome.failed_activities)

    kills = by_name["kill-replica"].recoveries
    assert set(kills) == {f"kill-replica/{s}" for s in ("user", "trip", "ai", "location")}
    assert all(s is not None and s < 300 for s in kills.values())
    assert by_name["redis-outage"].recoveries["redis-outage"] is not None

    accounting = by_name["poison-messages"].findings[
        "wait until every message is completed or dead-lettered"
    ]
    assert accounting["sent"] == accounting["completed"] + accounting["dead_lettered"]
    assert accounting["dead_lettered"] == 3 and accounting["completed"] == 2
    assert accounting["deliveries_per_poison"] == 3

    run_folder = outcomes[0].journal.parent.parent
    results = LoadResults.load(run_folder / "results.json")
    names = {e.name for e in results.chaos_events}
    assert {"redis-outage", "poison-messages", "kill-replica/user"} <= names
    assert all(e.recovered_at is not None for e in results.chaos_events)
    assert results.probes, "the background traffic is the run's steady-prober record"

"""kill-replica, redis-outage and poison-messages end to end on the local prod simulation (the
package's shared deployment) under background traffic: each journal's hypothesis held before
and after, one killed replica raised no alert, the queue accounting balances, and the run's
results carry the chaos events with their recovery times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.runner import run_experiments
from runs.results import LoadResults

pytestmark = pytest.mark.e2e

CI_EXPERIMENTS = ["kill-replica", "redis-outage", "poison-messages"]


def test_kill_redis_outage_and_poison_hold_and_account(prod_sim: Path) -> None:
    outcomes = run_experiments(CI_EXPERIMENTS, profile="prod", platform="local", state_dir=prod_sim)
    by_name = {o.name: o for o in outcomes}
    assert list(by_name) == CI_EXPERIMENTS
    for outcome in outcomes:
        assert outcome.journal is not None
        journal = json.loads(outcome.journal.read_text())
        assert journal["status"] == "completed", (outcome.name, outcome.failed_activities)
        assert journal["steady_states"]["before"]["steady_state_met"], outcome.failed_probes
        assert journal["steady_states"]["after"]["steady_state_met"], outcome.failed_probes
        assert outcome.ok, outcome.notes
        assert outcome.rate_limited == 0
    assert "alert availability stayed quiet as expected" in by_name["kill-replica"].alert_notes

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

    assert outcomes[0].journal is not None
    run_folder = outcomes[0].journal.parent.parent
    results = LoadResults.load(run_folder / "results.json")
    names = {e.name for e in results.chaos_events}
    assert {"redis-outage", "poison-messages", "kill-replica/user"} <= names
    assert all(e.recovered_at is not None for e in results.chaos_events)
    assert results.probes, "the background traffic is the run's steady-prober record"

"""Platform actions and recovery probes record chaos events with the right timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.events import events_since, finalize, mark_experiment
from chaos.providers import platform as actions
from chaos.providers import recovery
from runs.jsonl import read_jsonl
from runs.results import CHAOS_FILE, ChaosEvent
from tests.chaos.fake_platform import FakePlatform

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def run_dir(configuration: dict[str, Any]) -> Path:
    return Path(configuration["run_dir"])


def test_kill_replica_then_back_records_injection_and_recovery(
    configuration: dict[str, Any], fake_platform: FakePlatform
) -> None:
    killed = actions.kill_replica("trip", configuration=configuration)
    assert killed["replica"] == "trip-1" and killed["ready_before"] == 3
    back = recovery.wait_replica_back("trip", timeout_s=5, configuration=configuration)
    assert back["recovered"] is True and back["recovery_s"] >= 0
    (event,) = events_since(run_dir(configuration), EPOCH)
    assert event.name == "kill-replica/trip"
    assert event.ended_at is not None and event.recovered_at is not None
    assert event.recovered_at >= event.started_at


def test_replica_that_never_comes_back_stays_unrecovered(
    configuration: dict[str, Any], fake_platform: FakePlatform
) -> None:
    fake_platform.restart_after = 10_000
    actions.kill_replica("ai", configuration=configuration)
    back = recovery.wait_replica_back("ai", timeout_s=0.05, configuration=configuration)
    assert back == {
        "event": "kill-replica/ai",
        "recovered": False,
        "recovery_s": None,
        "replica": "ai-1",
    }
    mark_experiment(run_dir(configuration), "t")
    # worst_recovery only sees events of the current experiment: mark before injecting
    actions.kill_replica("user", configuration=configuration)
    worst = recovery.worst_recovery(["kill-replica/*"], configuration=configuration)
    assert worst["recovery_s"] is None and worst["unrecovered"] == ["kill-replica/user"]


def test_zone_outage_and_restore(
    configuration: dict[str, Any], fake_platform: FakePlatform
) -> None:
    mark_experiment(run_dir(configuration), "zone")
    hit = actions.zone_outage("zone-2", configuration=configuration)["hit"]
    assert hit == ["user-2", "trip-2", "ai-2", "location-2"]
    assert recovery.all_replicas_ready(0, configuration)["all_ready"] is False
    actions.restore_zone("zone-2", configuration=configuration)
    assert recovery.all_replicas_ready(0, configuration)["all_ready"] is True
    worst = recovery.worst_recovery(["zone-outage/*"], configuration=configuration)
    assert worst["events"] == 1 and worst["recovery_s"] is not None
    # the rollback finds nothing to do
    rollback = actions.ensure_zone_restored("zone-2", configuration=configuration)
    assert rollback["action"].startswith("none")
    assert fake_platform.calls.count("restore zone-2") == 1


def test_dependency_stop_start_and_rollback_noop(
    configuration: dict[str, Any], fake_platform: FakePlatform
) -> None:
    actions.stop_dependency("redis", configuration=configuration)
    assert fake_platform.dependencies["redis"] == "STOPPED"
    actions.start_dependency("redis", configuration=configuration)
    again = actions.ensure_dependency_running("redis", configuration=configuration)
    assert again["action"].startswith("none")
    assert fake_platform.calls == ["stop redis", "start redis"]


def test_rollback_starts_a_dependency_the_method_left_stopped(
    configuration: dict[str, Any], fake_platform: FakePlatform
) -> None:
    actions.stop_dependency("postgresql", event="postgresql-restart", configuration=configuration)
    done = actions.ensure_dependency_running(
        "postgresql", event="postgresql-restart", configuration=configuration
    )
    assert done["action"] == "started" and fake_platform.dependencies["postgresql"] == "RUNNING"


def test_finalize_moves_events_to_the_side_file(
    configuration: dict[str, Any], fake_platform: FakePlatform
) -> None:
    actions.kill_replica("location", configuration=configuration)
    recovery.wait_replica_back("location", timeout_s=5, configuration=configuration)
    moved = finalize(run_dir(configuration))
    assert [e.name for e in moved] == ["kill-replica/location"]
    stored = read_jsonl(run_dir(configuration) / CHAOS_FILE, ChaosEvent)
    assert stored[0].recovery_s is not None
    assert finalize(run_dir(configuration)) == []  # idempotent

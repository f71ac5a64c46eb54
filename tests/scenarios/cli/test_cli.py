"""`python -m scenarios.cli`: its arguments, and the clear errors a user gets before any load
runs (nothing deployed, another platform or profile deployed, impossible settings)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import pytest

from runs.results import LoadResults
from scenarios.cli import deployment, main
from scenarios.cli.args import DEFAULT_SCALE, parse_duration
from scenarios.cli.common import JOURNEYS, QUICK_DURATION_S, HarnessError
from scenarios.cli.deployment import probe_targets
from scenarios.cli.measured import plan_from_args, warn_if_over_rate_limit
from scenarios.load.runner import run_load
from simulation.platforms.base import Endpoints
from simulation.platforms.local_plan import make_plan
from simulation.state import DeploymentState, save_state
from tests.scenarios.helpers import LOCUSTFILE, ServerThread


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main.main(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def record(run_dir: Path, platform: str = "local", profile: str = "prod") -> None:
    save_state(
        run_dir,
        DeploymentState(platform=platform, profile=profile, base_url="http://127.0.0.1:9"),
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2m", 120), ("45s", 45), ("45", 45), ("1m30s", 90), ("1h", 3600), ("0.5s", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "2 minutes", "-1m", "1d", "m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["load", "--users", "0"], "must be at least 1"),
        (["load", "--users", "many"], "whole number"),
        (["load", "--spawn-rate", "0"], "above 0"),
        (["load", "--duration", "soon"], "invalid duration"),
        (["load", "--wait", "3,1"], "MIN must not exceed MAX"),
        (["load", "--platform", "aws"], "invalid choice"),
        (["load", "--profile", "phase2"], "invalid choice"),
        (["load", "--quick", "--duration", "1m"], "alternatives"),
        (["sla-check", "--profile", "staging"], "invalid choice"),
        (["sla-check", "--no-data", "maybe"], "invalid choice"),
    ],
)
def test_argument_mistakes_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert message in usage_error(capsys, *argv)


def test_load_without_a_deployment_says_how_to_make_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, output = run(capsys, "--run-dir", str(tmp_path), "load")
    assert code == 2
    assert "nothing is deployed" in output and "deploy-prod-sim" in output
    assert "Traceback" not in output
    assert not (tmp_path / "runs").exists()


def test_load_refuses_another_platform(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    record(tmp_path, platform="local")
    code, output = run(capsys, "--run-dir", str(tmp_path), "load", "--platform", "kind")
    assert code == 2
    assert "runs on 'local', not 'kind'" in output


def test_load_refuses_another_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    record(tmp_path, profile="dev")
    code, output = run(capsys, "--run-dir", str(tmp_path), "load", "--profile", "prod")
    assert code == 2
    assert "profile 'dev' is deployed, not 'prod'" in output


def test_sla_check_refuses_a_deployment_of_another_profile(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record(tmp_path, profile="dev")
    code, output = run(capsys, "--run-dir", str(tmp_path), "sla-check", "--profile", "phase2")
    assert code == 2  # phase2 is measured on prod
    assert "profile 'dev' is deployed, not 'prod'" in output


def test_a_recorded_deployment_that_is_gone_is_a_harness_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A real local plan in state.json, but no supervisor behind it (a reboot, say).
    plan = make_plan("prod", backing_dir=tmp_path / "backing")
    save_state(
        tmp_path,
        DeploymentState(
            platform="local",
            profile="prod",
            base_url=plan.base_url,
            details={"plan": plan.to_dict(), "supervisord_pid": 0},
        ),
    )
    code, output = run(capsys, "--run-dir", str(tmp_path), "load")
    assert code == 2
    assert "not running" in output
    assert output.count("error:") == 1 and "Traceback" not in output


def test_a_broken_state_file_is_a_harness_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "state.json").write_text("{not json")
    code, output = run(capsys, "--run-dir", str(tmp_path), "load")
    assert code == 2 and "unreadable" in output


def _args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "users": None,
        "duration": None,
        "quick": False,
        "spawn_rate": None,
        "processes": 1,
        "wait": None,
    }
    values.update(given)
    return argparse.Namespace(**values)


def test_plans_default_to_laptop_scale() -> None:
    prod = plan_from_args(_args(), "prod")
    assert (prod.users, prod.duration_s, prod.spawn_rate) == (50, 120.0, 2.0)
    assert prod.journey.wait_s == (1.0, 3.0)
    dev = plan_from_args(_args(quick=True), "dev")
    assert (dev.users, dev.duration_s) == (6, QUICK_DURATION_S)
    given = plan_from_args(_args(users=3, duration=30.0, spawn_rate=0.5, wait=(0.0, 0.0)), "prod")
    assert (given.users, given.duration_s, given.spawn_rate) == (3, 30.0, 0.5)
    assert given.journey.wait_s == (0.0, 0.0)


def test_more_locust_processes_than_users_is_refused() -> None:
    with pytest.raises(HarnessError, match="--processes 4 exceeds --users 2"):
        plan_from_args(_args(users=2, processes=4), "prod")


def test_probes_read_each_deployed_service_through_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = iter(["tok-1", "tok-2", "tok-3", "tok-4"])
    monkeypatch.setattr(deployment, "_probe_account_token", lambda _base: next(tokens))
    endpoints = Endpoints(
        base_url="http://127.0.0.1:8000",
        services={s: "http://127.0.0.1:8000" for s in ("user", "trip", "location", "ai")},
    )
    targets = probe_targets(endpoints)
    assert [t.name for t in targets] == [
        "profile read (key route)",
        "my trips",
        "cities",
        "schedule lookup",
    ]
    assert targets[0].url == "http://127.0.0.1:8000/api/users/me"
    assert targets[1].url == "http://127.0.0.1:8000/api/trips"
    # An account per target: probed each second, four targets as one user would pass the
    # per-user limit of 100 requests a minute that every service shares.
    assert [t.headers for t in targets] == [
        {"Authorization": f"Bearer tok-{n}"} for n in range(1, 5)
    ]
    # A schedule nobody has: 404 from a replica is served; nginx's 503 (no replica) is not.
    assert targets[3].ok_statuses == [404]


def test_without_a_probe_account_only_the_gateway_is_probed_and_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoints = Endpoints(base_url="http://127.0.0.1:9", services={"user": "http://127.0.0.1:9"})
    targets = probe_targets(endpoints)  # nothing listens on port 9: registration fails
    assert [(t.name, t.url) for t in targets] == [("gateway", "http://127.0.0.1:9/healthz")]
    printed = capsys.readouterr()
    assert "no probe account" in printed.out + printed.err


def test_chaos_windows_are_offered_by_the_chaos_layer(capsys: pytest.CaptureFixture[str]) -> None:
    """`scenarios` never imports `chaos`: its sla-check has no --with-chaos and says where it is."""
    err = usage_error(capsys, "sla-check", "--with-chaos")
    assert "unrecognized arguments: --with-chaos" in err
    with pytest.raises(SystemExit):
        main.main(["sla-check", "--help"])
    assert "python -m chaos.sla_check --with-chaos" in capsys.readouterr().out


def test_the_journeys_file_is_where_the_cli_runs_it() -> None:
    assert JOURNEYS.is_file()
    assert json.loads(json.dumps(DEFAULT_SCALE["prod"].__dict__)) == {
        "users": 50,
        "duration_s": 120.0,
    }


def test_a_run_sized_for_chaos_stops_early_and_keeps_its_output(
    tmp_path: Path, server: ServerThread
) -> None:
    """`sla-check --with-chaos` sizes the load for the longest chaos run and stops it when the
    experiments are done: locust is stopped like Ctrl-C and still writes every file."""
    stop = threading.Event()
    timer = threading.Timer(4.0, stop.set)
    began = time.monotonic()
    timer.start()
    try:
        path = run_load(
            LOCUSTFILE,
            server.url,
            profile="prod",
            platform="local",
            users=2,
            spawn_rate=2,
            duration_s=120,
            runs_root=tmp_path,
            stop_timeout_s=1,
            stop=stop,
        )
    finally:
        timer.cancel()
    assert time.monotonic() - began < 60
    results = LoadResults.load(path)
    assert results.totals.requests > 0
    assert (path.parent / "locust.html").is_file()
    assert results.actual_duration_s < 60


def test_short_think_time_warns_of_the_rate_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record(tmp_path)
    warn_if_over_rate_limit(tmp_path, plan_from_args(_args(wait=(0.0, 0.0)), "prod"))
    assert "expect 429s" in capsys.readouterr().err
    warn_if_over_rate_limit(tmp_path, plan_from_args(_args(), "prod"))  # 1–3 s: ~39/min
    assert capsys.readouterr().err == ""
    save_state(
        tmp_path,
        DeploymentState(
            platform="local",
            profile="prod",
            base_url="http://127.0.0.1:9",
            details={"plan": {"extra_env": {"TRIPGEN_RATE_LIMIT_PER_MINUTE": "0"}}},
        ),
    )
    warn_if_over_rate_limit(tmp_path, plan_from_args(_args(wait=(0.0, 0.0)), "prod"))
    assert capsys.readouterr().err == ""

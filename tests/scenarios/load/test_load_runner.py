"""run_load's folder handling and its harness errors (the happy path is the `locust_run`
fixture every other test reads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runs.folders import latest_results, new_run_dir
from runs.results import RESULTS_FILE
from scenarios.load.runner import LoadRunError, locust_command, run_load


def test_run_folders_are_fresh_and_the_latest_is_found(tmp_path: Path) -> None:
    first = new_run_dir("prod", tmp_path)
    second = new_run_dir("prod", tmp_path)
    dev = new_run_dir("dev", tmp_path)
    assert len({first, second, dev}) == 3
    assert first.name.endswith("-prod")
    assert latest_results(runs_root=tmp_path) is None
    for folder in (first, second, dev):
        (folder / RESULTS_FILE).write_text("{}")
    assert latest_results("prod", tmp_path) == second / RESULTS_FILE
    assert latest_results("dev", tmp_path) == dev / RESULTS_FILE


def test_locust_command_keeps_every_output() -> None:
    command = locust_command(
        "lf.py",
        "http://h",
        Path("/r/locust"),
        users=50,
        spawn_rate=10,
        duration_s=90.5,
        processes=2,
        extra_args=["--tags", "browse"],
    )
    assert command[1:3] == ["-m", "locust"]
    for flag in ("--headless", "--csv-full-history", "--json-file", "--html"):
        assert flag in command
    assert command[command.index("--run-time") + 1] == "91s"
    assert command[command.index("--processes") + 1] == "2"
    assert command[-2:] == ["--tags", "browse"]


def test_a_broken_locustfile_is_a_harness_error(tmp_path: Path) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text("raise RuntimeError('broken on purpose')\n")
    with pytest.raises(LoadRunError, match="broken on purpose"):
        run_load(
            locustfile,
            "http://127.0.0.1:9",
            profile="dev",
            platform="local",
            users=1,
            spawn_rate=1,
            duration_s=1,
            runs_root=tmp_path / "runs",
        )

"""supervisord: the rendered config as supervisord itself parses it, and a real daemon driven over
its XML-RPC socket (start, stop, a SIGKILLed program restarted, shutdown leaving nothing)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ServerOptions

from simulation.platforms.supervisor import (
    Program,
    SupervisorError,
    SupervisorPaths,
    connect,
    launch_supervisord,
    pid_alive,
    render_supervisord_conf,
    wait_gone,
)


def _parse(paths: SupervisorPaths) -> ServerOptions:
    options = ServerOptions()
    options.configfile = str(paths.conf)
    options.process_config(do_usage=False)
    return options


def test_supervisord_parses_the_rendered_config(tmp_path: Path) -> None:
    paths = SupervisorPaths(tmp_path)
    program = Program(
        name="user-1",
        command=[sys.executable, "-m", "services.user"],
        log_file=tmp_path / "user-1.log",
        # `%` is supervisord's expansion character, commas separate its KEY=VALUE pairs.
        environment={"TRIPGEN_PORT": "8081", "ODD": "50%,then,more"},
        stopsignal="INT",
        stop_as_group=False,
    )
    paths.conf.write_text(render_supervisord_conf(paths, [program]))
    options = _parse(paths)
    (group,) = options.process_group_configs
    (parsed,) = group.process_configs
    assert parsed.name == "user-1"
    assert parsed.command == f"{sys.executable} -m services.user"
    assert parsed.environment == {"TRIPGEN_PORT": "8081", "ODD": "50%,then,more"}
    assert parsed.autorestart is RestartUnconditionally
    assert parsed.stopsignal == signal.SIGINT
    assert parsed.stopasgroup is False
    assert parsed.killasgroup is True
    assert options.nodaemon is True


def test_quotes_in_environment_values_are_refused(tmp_path: Path) -> None:
    paths = SupervisorPaths(tmp_path)
    bad = Program("x", ["true"], tmp_path / "x.log", environment={"A": 'say "hi"'})
    with pytest.raises(SupervisorError, match="quotes"):
        render_supervisord_conf(paths, [bad])


def test_a_deep_run_dir_moves_the_socket_to_the_temp_dir(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    socket_path = SupervisorPaths(deep).socket
    assert len(str(socket_path)) <= 100
    assert socket_path == SupervisorPaths(deep).socket  # stable: status finds it again


@pytest.fixture
def supervisord(tmp_path: Path) -> Iterator[tuple[SupervisorPaths, int]]:
    paths = SupervisorPaths(tmp_path / "supervisor")
    paths.directory.mkdir()
    sleeper = Program(
        name="sleeper",
        command=[sys.executable, "-c", "import time; time.sleep(600)"],
        log_file=tmp_path / "sleeper.log",
        startsecs=0,
    )
    idle = Program("idle", ["sleep", "600"], tmp_path / "idle.log", autostart=False, startsecs=0)
    paths.conf.write_text(render_supervisord_conf(paths, [sleeper, idle]))
    process = launch_supervisord(paths, dict(os.environ))
    try:
        connect(paths, process)
        yield paths, process.pid
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def test_a_killed_program_is_restarted_and_shutdown_leaves_nothing(
    supervisord: tuple[SupervisorPaths, int],
) -> None:
    paths, supervisord_pid = supervisord
    client = connect(paths)
    first = client.wait_for(["sleeper"], {"RUNNING"}, timeout_s=10)["sleeper"].pid
    assert first
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        info = client.info("sleeper")
        if info.running and info.pid != first:
            break
        assert time.monotonic() < deadline, f"not restarted: {info}"
        time.sleep(0.05)

    assert client.info("idle").state == "STOPPED"
    client.start("idle")
    client.start("idle")  # already started: fine
    idle_pid = client.info("idle").pid
    assert idle_pid
    client.stop("idle")
    client.stop("idle")  # already stopped: fine
    assert not pid_alive(idle_pid)

    second = client.info("sleeper").pid
    assert second
    client.stop("sleeper")
    client.shutdown()
    assert wait_gone(supervisord_pid, 10)
    assert not pid_alive(second)
    assert not client.alive()


def test_an_unreachable_supervisord_is_a_clear_error(tmp_path: Path) -> None:
    from simulation.platforms.supervisor import SupervisorClient

    client = SupervisorClient(tmp_path / "nothing.sock")
    assert client.alive() is False
    with pytest.raises(SupervisorError, match="not reachable"):
        client.all_info()

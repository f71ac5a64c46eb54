"""`--platform auto`: kind only where a Docker daemon answers and kind is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.platforms import (
    NotDeployed,
    Platform,
    PlatformError,
    choose_platform,
    current_platform,
    open_platform,
)
from simulation.platforms.aks import AksPlatform
from simulation.platforms.kind import KindPlatform
from simulation.platforms.local import LocalPlatform
from simulation.platforms.runner import RecordingRunner, failed, ok
from simulation.state import DeploymentState, save_state


def test_auto_picks_local_without_kind() -> None:
    runner = RecordingRunner(tools={"docker", "kubectl", "helm"})
    choice = choose_platform("auto", runner)
    assert choice.name == "local"
    assert "kind" in choice.reason
    assert runner.commands == []  # no point asking Docker


def test_auto_picks_local_when_docker_does_not_answer() -> None:
    runner = RecordingRunner()
    runner.respond(["docker", "info"], failed("Cannot connect to the Docker daemon"))
    choice = choose_platform("auto", runner)
    assert choice.name == "local"
    assert "Docker daemon" in choice.reason
    assert runner.commands == [("docker", "info", "--format", "{{.ServerVersion}}")]


def test_auto_picks_kind_when_docker_answers_and_kind_exists() -> None:
    runner = RecordingRunner()
    runner.respond(["docker", "info"], ok("28.2.2"))
    choice = choose_platform("auto", runner)
    assert choice.name == "kind"
    assert "kind" in choice.reason


def test_auto_without_docker_binary_is_local() -> None:
    assert choose_platform("auto", RecordingRunner(tools={"kind"})).name == "local"


@pytest.mark.parametrize("name", ["local", "kind"])
def test_an_explicit_platform_is_taken_as_asked(name: str) -> None:
    runner = RecordingRunner(tools=set())
    assert choose_platform(name, runner).name == name
    assert runner.commands == []


def test_an_unknown_platform_is_an_error() -> None:
    with pytest.raises(PlatformError, match="local, kind, auto"):
        choose_platform("minikube", RecordingRunner())


def test_every_platform_satisfies_the_interface(tmp_path: Path) -> None:
    runner = RecordingRunner()
    for platform in (
        LocalPlatform(tmp_path),
        KindPlatform(tmp_path, runner=runner),
        AksPlatform(tmp_path, runner=runner, kube_context="aks-prod"),
    ):
        assert isinstance(platform, Platform)


def test_current_platform_follows_the_recorded_deployment(tmp_path: Path) -> None:
    with pytest.raises(NotDeployed, match="nothing is deployed"):
        current_platform(tmp_path)
    save_state(tmp_path, DeploymentState("kind", "prod", "http://127.0.0.1"))
    assert isinstance(current_platform(tmp_path, runner=RecordingRunner()), KindPlatform)
    save_state(tmp_path, DeploymentState("local", "dev", "http://127.0.0.1:1"))
    assert isinstance(current_platform(tmp_path), LocalPlatform)
    with pytest.raises(PlatformError):
        open_platform("nomad", directory=tmp_path)

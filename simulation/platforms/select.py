"""Which platform a session runs on: `--platform local|kind|auto`, and the one already deployed.

`auto` picks kind only where it can work — a Docker daemon answers and `kind` is on PATH — and
says which it picked and why; everywhere else (this repository's CI included) it picks local.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from simulation.k8s.helm import HelmError, find_helm
from simulation.platforms.aks import AksPlatform
from simulation.platforms.base import NotDeployed, Platform, PlatformError
from simulation.platforms.kind import KindPlatform
from simulation.platforms.local import LocalPlatform
from simulation.platforms.runner import CommandRunner, SubprocessRunner
from simulation.state import load_state, run_dir

CHOICES = ("local", "kind", "auto")


@dataclass(frozen=True)
class PlatformChoice:
    name: str  # local | kind
    reason: str


def docker_daemon_answers(runner: CommandRunner) -> bool:
    if runner.which("docker") is None:
        return False
    return runner.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"], check=False, timeout=10
    ).ok


def choose_platform(requested: str, runner: CommandRunner) -> PlatformChoice:
    """Resolve `requested` (local, kind or auto) to a concrete platform with the reason."""
    if requested not in CHOICES:
        raise PlatformError(f"unknown platform {requested!r}; choose one of: {', '.join(CHOICES)}")
    if requested != "auto":
        return PlatformChoice(requested, "asked for with --platform")
    if runner.which("kind") is None:
        return PlatformChoice("local", "auto: `kind` is not on PATH")
    if not docker_daemon_answers(runner):
        return PlatformChoice("local", "auto: no Docker daemon answers `docker info`")
    return PlatformChoice("kind", "auto: a Docker daemon answers and `kind` is on PATH")


def open_platform(
    name: str,
    *,
    directory: Path | None = None,
    runner: CommandRunner | None = None,
    console: Console | None = None,
) -> Platform:
    """A platform object by name (local, kind, aks)."""
    console = console or Console(stderr=True, soft_wrap=True)
    if name == "local":
        return LocalPlatform(directory, console=console)
    if name == "kind":
        return KindPlatform(directory, runner=runner or default_runner(), console=console)
    if name == "aks":
        return AksPlatform(directory, runner=runner or default_runner(), console=console)
    raise PlatformError(f"unknown platform {name!r}; choose one of: local, kind, aks")


def current_platform(
    directory: Path | None = None,
    *,
    runner: CommandRunner | None = None,
    console: Console | None = None,
) -> Platform:
    """The platform of the deployment recorded in the run directory — what `status`, `down`,
    load and chaos act on. Raises `NotDeployed` when nothing is recorded."""
    state = load_state(run_dir(directory))
    if state is None:
        raise NotDeployed(
            "nothing is deployed; run `nox -s deploy-dev-sim` or `nox -s deploy-prod-sim` first"
        )
    return open_platform(state.platform, directory=directory, runner=runner, console=console)


def default_runner() -> SubprocessRunner:
    """Real commands; a Helm that is not on PATH but cached by `simulation.k8s.helm` is used too."""
    executables: dict[str, str] = {}
    with suppress(HelmError):
        executables["helm"] = str(find_helm(allow_fetch=False).path)
    return SubprocessRunner(executables)

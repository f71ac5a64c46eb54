"""A Docker daemon and a BuildKit-capable CLI, started or installed where needed.

Use the running daemon; else, as root, start `dockerd --storage-driver=overlay2` (log in
`.tripgen/logs/dockerd.log`), installing Debian's `docker.io` first when it is missing. Builds need
BuildKit: the docker CLI's buildx plugin, else a pre-23 CLI (Debian's 20.10, `/usr/bin/docker`)
with `DOCKER_BUILDKIT=1`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from simulation.backing.binaries import apt_install
from simulation.backing.errors import BinariesMissingError

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = REPO_ROOT / ".tripgen" / "logs"
DEBIAN_DOCKER_CLI = "/usr/bin/docker"


class ImageError(RuntimeError):
    """A step of an image build, push or smoke test failed; the message says which and why."""


def log(msg: str) -> None:
    print(msg, flush=True)


def is_root() -> bool:
    return os.geteuid() == 0


def run(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` capturing its output; raise `ImageError` with the output's tail on failure."""
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and proc.returncode != 0:
        tail = ((proc.stderr or "") + (proc.stdout or "")).strip()[-2000:]
        raise ImageError(f"{' '.join(cmd[:4])} … exited {proc.returncode}:\n{tail}")
    return proc


def install_package(package: str, why: str) -> None:
    """apt-get install `package` (as root), as an `ImageError` when that is not possible."""
    try:
        apt_install([package], why=why)
    except BinariesMissingError as exc:
        raise ImageError(str(exc)) from exc


@dataclass
class Docker:
    """The docker CLI to use and the environment that enables BuildKit for it."""

    cli: str
    env: dict[str, str]
    buildx: bool
    started_daemon: bool = False

    def run(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run([self.cli, *args], env=self.env, check=check, timeout=timeout)

    def build_args(self) -> list[str]:
        """The leading arguments of a BuildKit build with this CLI."""
        return ["buildx", "build", "--load"] if self.buildx else ["build"]


def daemon_up(cli: str) -> bool:
    """Whether `cli info` reaches a daemon."""
    if not shutil.which(cli) and not Path(cli).exists():
        return False
    proc = subprocess.run(
        [cli, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return proc.returncode == 0 and bool(proc.stdout.strip())


def start_dockerd(allow_install: bool) -> None:
    """Start `dockerd` in its own session (later runs reuse it); installs docker.io when allowed."""
    if not shutil.which("dockerd"):
        if not allow_install:
            raise ImageError("no Docker daemon and no dockerd: apt-get install docker.io")
        install_package("docker.io", "the Docker engine that builds the images")
    if not is_root():
        raise ImageError("no Docker daemon running, and starting dockerd needs root")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    logfile = LOG_DIR / "dockerd.log"
    log(f"no Docker daemon running: starting dockerd --storage-driver=overlay2 (log: {logfile})")
    with logfile.open("ab") as out:
        subprocess.Popen(
            ["dockerd", "--storage-driver=overlay2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this process; later runs and sessions reuse it
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon_up(shutil.which("docker") or DEBIAN_DOCKER_CLI):
            return
        time.sleep(0.5)
    raise ImageError(f"dockerd did not come up within 60 s; see {logfile}")


def _client_major(cli: str) -> int:
    proc = subprocess.run(
        [cli, "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    try:
        return int(proc.stdout.strip().split(".")[0])
    except ValueError:
        return 0


def ensure_docker(*, allow_install: bool = True) -> Docker:
    """A docker CLI talking to a running daemon, able to build with BuildKit."""
    started = False
    default_cli = shutil.which("docker")
    if not (default_cli and daemon_up(default_cli)) and not daemon_up(DEBIAN_DOCKER_CLI):
        start_dockerd(allow_install)
        started = True
    candidates = [c for c in (default_cli, DEBIAN_DOCKER_CLI) if c and Path(c).exists()]
    for cli in dict.fromkeys(candidates):
        if not daemon_up(cli):
            continue
        env = dict(os.environ)
        buildx = (
            subprocess.run(
                [cli, "buildx", "version"], capture_output=True, check=False, timeout=30
            ).returncode
            == 0
        )
        if buildx:
            return Docker(cli, env, buildx=True, started_daemon=started)
        if _client_major(cli) < 23:  # the classic CLI still drives the daemon's BuildKit itself
            env["DOCKER_BUILDKIT"] = "1"
            return Docker(cli, env, buildx=False, started_daemon=started)
    raise ImageError(
        "no docker CLI that can build with BuildKit: install the buildx plugin, or Debian's "
        "docker.io (its /usr/bin/docker 20.10 uses the daemon's BuildKit with DOCKER_BUILDKIT=1)"
    )


def image_exists(docker: Docker, ref: str) -> bool:
    return docker.run("image", "inspect", ref, check=False).returncode == 0

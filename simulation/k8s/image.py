"""Build the service image from a locally made base and smoke-test it: `nox -s image`.

    python -m simulation.k8s.image [--tag tripgen:dev] [--service user] [--no-smoke] [--no-install]

Steps, each reported with its duration:

1. Docker: use the running daemon; else, as root, start `dockerd --storage-driver=overlay2`
   (log in `.tripgen/logs/dockerd.log`) — installing Debian's `docker.io` first when it is missing.
   The build needs BuildKit: the docker CLI's buildx plugin, else a pre-23 CLI (Debian's 20.10,
   `/usr/bin/docker`) with `DOCKER_BUILDKIT=1`.
2. Base image `tripgen-base:bookworm-py311` (Debian 12 minbase + python3 3.11 + venv + CA
   certificates), because no image registry is reachable: `debootstrap` once, the root filesystem
   tarred to `.tripgen/cache/base/` (reused by later runs and CI) and `docker import`ed.
3. `docker build --network host` of the Dockerfile with `BASE_IMAGE` set to that base; a CA bundle
   from PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE is handed to pip as a BuildKit secret.
4. Smoke test: start PostgreSQL + Redis (`simulation.backing.BackingServices`), run the image with
   `--network host` as `python -m services.<service>` on a free port, and poll
   `/actuator/health/liveness` (then report readiness too). `--service` or
   TRIPGEN_IMAGE_SMOKE_SERVICE picks the service (default user).

Exits non-zero when a step fails; prints a summary table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulation.backing.binaries import apt_install
from simulation.backing.errors import BinariesMissingError

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".tripgen" / "cache" / "base"
LOG_DIR = REPO_ROOT / ".tripgen" / "logs"

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("TRIPGEN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_TAG = "tripgen-base:bookworm-py311"
DEFAULT_TAG = "tripgen:dev"
HEALTH_PATH = "/actuator/health/liveness"
READINESS_PATH = "/actuator/health/readiness"
SERVICES = ("user", "trip", "ai", "location")
# Trimmed from the debootstrap tree before it is tarred: docs, man pages, locales, apt lists/cache.
TRIM_PATHS = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log",
)


class ImageError(RuntimeError):
    """A step of the image build or smoke test failed; the message says which and why."""


def log(msg: str) -> None:
    print(msg, flush=True)


def _is_root() -> bool:
    return os.geteuid() == 0


def _run(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd,
        env=env,
        capture_output=capture,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        tail = ((proc.stderr or "") + (proc.stdout or "")).strip()[-2000:]
        raise ImageError(f"{' '.join(cmd[:4])} … exited {proc.returncode}:\n{tail}")
    return proc


def _apt_install(package: str, why: str) -> None:
    try:
        apt_install([package], why=why)
    except BinariesMissingError as exc:
        raise ImageError(str(exc)) from exc


# --------------------------------------------------------------------------- docker


@dataclass
class Docker:
    """The docker CLI to use and the environment that enables BuildKit for it."""

    cli: str
    env: dict[str, str]
    buildx: bool
    started_daemon: bool = False

    def run(
        self, *args: str, check: bool = True, capture: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        return _run([self.cli, *args], env=self.env, check=check, capture=capture, timeout=timeout)


def _daemon_up(cli: str) -> bool:
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


def _start_dockerd(allow_install: bool) -> None:
    if not shutil.which("dockerd"):
        if not allow_install:
            raise ImageError("no Docker daemon and no dockerd: apt-get install docker.io")
        _apt_install("docker.io", "the Docker engine that builds the image")
    if not _is_root():
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
        if _daemon_up(shutil.which("docker") or "/usr/bin/docker"):
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
    if not (default_cli and _daemon_up(default_cli)) and not _daemon_up("/usr/bin/docker"):
        _start_dockerd(allow_install)
        started = True
    candidates = [c for c in (default_cli, "/usr/bin/docker") if c and Path(c).exists()]
    for cli in dict.fromkeys(candidates):
        if not _daemon_up(cli):
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


# --------------------------------------------------------------------------- base image


def base_tarball() -> Path:
    """The cached root filesystem; its name changes with the suite and package list."""
    key = hashlib.sha256(f"{DEBIAN_SUITE} {' '.join(BASE_PACKAGES)}".encode()).hexdigest()[:10]
    return CACHE_DIR / f"{DEBIAN_SUITE}-python3-{key}.tar.gz"


def build_base_tarball(*, allow_install: bool = True) -> Path:
    """debootstrap Debian minbase + python3 into a temp dir and tar it into the cache."""
    target = base_tarball()
    if not _is_root():
        raise ImageError(f"debootstrap needs root (or put a prebuilt tarball at {target})")
    if not shutil.which("debootstrap"):
        if not allow_install:
            raise ImageError("debootstrap is missing: apt-get install debootstrap")
        _apt_install("debootstrap", "the locally made Debian base image")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tripgen-rootfs-", dir=CACHE_DIR) as tmp:
        root = Path(tmp) / "rootfs"
        log(
            f"debootstrap --variant=minbase {DEBIAN_SUITE} + {', '.join(BASE_PACKAGES)} "
            "(about a minute) …"
        )
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                DEBIAN_SUITE,
                str(root),
                DEBIAN_MIRROR,
            ],
            timeout=1200,
        )
        for rel in TRIM_PATHS:
            path = root / rel
            if path.is_dir():
                shutil.rmtree(path)
                path.mkdir(parents=True)
        partial = target.with_suffix(".partial")
        _run(["tar", "-C", str(root), "--numeric-owner", "-czf", str(partial), "."])
        partial.replace(target)
    return target


def ensure_base(docker: Docker, *, allow_install: bool = True) -> str:
    """The base image tag, imported from the cached tarball (built first when absent)."""
    if image_exists(docker, BASE_TAG):
        return "present"
    tarball = base_tarball()
    how = "imported from cache"
    if not tarball.exists():
        build_base_tarball(allow_install=allow_install)
        how = "debootstrapped and imported"
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["python3"]',
    ]
    args = ["import"]
    for c in changes:
        args += ["--change", c]
    docker.run(*args, str(tarball), BASE_TAG, timeout=600)
    return how


# --------------------------------------------------------------------------- build


def _ca_bundle() -> Path | None:
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return None


def build_image(docker: Docker, tag: str) -> None:
    args = ["build"] if not docker.buildx else ["buildx", "build", "--load"]
    args += [
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={BASE_TAG}",
        "--tag",
        tag,
        "--file",
        str(REPO_ROOT / "Dockerfile"),
    ]
    if index := os.environ.get("PIP_INDEX_URL"):
        args += ["--build-arg", f"PIP_INDEX_URL={index}"]
    if ca := _ca_bundle():
        args += ["--secret", f"id=pip_ca,src={ca}"]
    args.append(str(REPO_ROOT))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    logfile = LOG_DIR / "image-build.log"
    with logfile.open("w") as out:
        proc = subprocess.run(
            [docker.cli, *args],
            env={**docker.env, "BUILDKIT_PROGRESS": "plain"},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=1800,
        )
    if proc.returncode != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-30:]
        raise ImageError(f"docker build failed (full log: {logfile}):\n" + "\n".join(tail))


def image_facts(docker: Docker, tag: str) -> dict[str, str]:
    out = docker.run("image", "inspect", tag).stdout
    info = json.loads(out)[0]
    config = info.get("Config", {})
    return {
        "size": f"{info.get('Size', 0) / 1e6:.0f} MB",
        "user": str(config.get("User")),
        "healthcheck": "none" if not config.get("Healthcheck") else "present",
    }


# --------------------------------------------------------------------------- smoke test


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode(errors="replace")


@contextlib.contextmanager
def _backing_env() -> Iterator[dict[str, str]]:
    """TRIPGEN_DATABASE_URL and TRIPGEN_REDIS_URL of freshly started PostgreSQL + Redis."""
    from simulation.backing import BackingServices, ensure_binaries

    ensure_binaries()
    with BackingServices() as services:
        yield {
            "TRIPGEN_DATABASE_URL": services.postgres.dsn,
            "TRIPGEN_REDIS_URL": services.redis.url,
        }


@dataclass
class SmokeResult:
    service: str
    liveness: int
    readiness: int | None
    seconds: float
    body: str = ""


def smoke_test(
    docker: Docker, tag: str, service: str, backing: dict[str, str], timeout_s: float = 90
) -> SmokeResult:
    """Run `python -m services.<service>` from the image against real PostgreSQL + Redis
    (`backing`: their TRIPGEN_DATABASE_URL / TRIPGEN_REDIS_URL)."""
    port = _free_port()
    name = f"tripgen-smoke-{service}-{os.getpid()}"
    env_args: list[str] = []
    for key, value in {
        **backing,
        "TRIPGEN_PORT": str(port),
        "TRIPGEN_HOST": "127.0.0.1",
        "TRIPGEN_PROFILE": "dev",
    }.items():
        env_args += ["-e", f"{key}={value}"]
    docker.run(
        "run", "-d", "--name", name, "--network", "host", "--read-only",
        "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        *env_args, tag, "python", "-m", f"services.{service}",
    )  # fmt: skip
    start = time.monotonic()
    try:
        status, body = 0, ""
        while time.monotonic() - start < timeout_s:
            running = docker.run(
                "inspect", "-f", "{{.State.Running}}", name, check=False
            ).stdout.strip()
            if running != "true":
                logs = docker.run("logs", name, check=False)
                raise ImageError(
                    f"services.{service} exited before serving health:\n"
                    + (logs.stdout + logs.stderr)[-3000:]
                )
            try:
                status, body = _get(f"http://127.0.0.1:{port}{HEALTH_PATH}")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            logs = docker.run("logs", name, check=False)
            raise ImageError(
                f"no 200 from {HEALTH_PATH} within {timeout_s:.0f} s (last {status}):\n"
                + (logs.stdout + logs.stderr)[-3000:]
            )
        elapsed = time.monotonic() - start
        readiness: int | None
        try:
            readiness, _ = _get(f"http://127.0.0.1:{port}{READINESS_PATH}", timeout=5)
        except OSError:
            readiness = None
        return SmokeResult(service, status, readiness, elapsed, body.strip()[:200])
    finally:
        docker.run("rm", "-f", name, check=False)


# --------------------------------------------------------------------------- CLI


@dataclass
class Step:
    name: str
    ok: bool = True
    detail: str = ""
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.k8s.image", description=__doc__)
    parser.add_argument("--tag", default=os.environ.get("TRIPGEN_IMAGE_TAG", DEFAULT_TAG))
    parser.add_argument(
        "--service",
        choices=(*SERVICES, "all"),
        default=os.environ.get("TRIPGEN_IMAGE_SMOKE_SERVICE", "all"),
        help="service(s) the smoke test runs; `all` (default) = every service that has a "
        "services/<name>/__main__.py, reporting the ones that do not (yet)",
    )
    parser.add_argument("--no-smoke", action="store_true", help="build only")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install docker.io / debootstrap"
    )
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)
    steps: list[Step] = []
    allow_install = not args.no_install
    state: dict[str, Docker] = {}

    def run(name: str, fn: Callable[[], str]) -> bool:
        step = Step(name)
        start = time.monotonic()
        console.print(f"[bold]{name}[/] …")
        try:
            step.detail = fn() or ""
        except ImageError as exc:
            step.ok, step.errors = False, str(exc).splitlines()
        except Exception as exc:  # report, never hide, an unexpected failure
            step.ok, step.errors = False, [f"{type(exc).__name__}: {exc}"]
        step.seconds = time.monotonic() - start
        mark = "[green]ok[/]" if step.ok else "[red]FAIL[/]"
        console.print(f"{mark} {name} ({step.seconds:.1f} s) {step.detail}")
        for line in step.errors[-40:]:
            console.print(f"    {line}", style="red", markup=False, highlight=False)
        steps.append(step)
        return step.ok

    def docker_step() -> str:
        docker = ensure_docker(allow_install=allow_install)
        state["docker"] = docker
        server = docker.run("version", "--format", "{{.Server.Version}}").stdout.strip()
        how = "started by this run (root)" if docker.started_daemon else "already running"
        builder = "buildx" if docker.buildx else "DOCKER_BUILDKIT=1"
        return f"daemon {server} {how}; CLI {docker.cli} ({builder})"

    def base_step() -> str:
        how = ensure_base(state["docker"], allow_install=allow_install)
        return f"{BASE_TAG} {how} ({base_tarball().relative_to(REPO_ROOT)})"

    def build_step() -> str:
        build_image(state["docker"], args.tag)
        facts = image_facts(state["docker"], args.tag)
        return (
            f"{args.tag}: {facts['size']}, user {facts['user']}, healthcheck {facts['healthcheck']}"
        )

    def smoke(service: str, backing: dict[str, str]) -> Callable[[], str]:
        def step() -> str:
            res = smoke_test(state["docker"], args.tag, service, backing)
            return (
                f"{HEALTH_PATH} → {res.liveness} after {res.seconds:.1f} s; "
                f"readiness → {res.readiness}"
            )

        return step

    total_start = time.monotonic()
    ok = run("docker daemon", docker_step)
    ok = ok and run("base image", base_step)
    ok = ok and run("build image", build_step)
    skipped: list[str] = []
    if ok and not args.no_smoke:
        wanted = SERVICES if args.service == "all" else (args.service,)
        present = [s for s in wanted if (REPO_ROOT / "services" / s / "__main__.py").exists()]
        skipped = [s for s in wanted if s not in present]
        try:
            with _backing_env() as backing:
                for service in present:
                    run(f"smoke services.{service} (--network host)", smoke(service, backing))
        except Exception as exc:  # backing services could not start: a failed step, not a crash
            steps.append(Step("backing services (PostgreSQL + Redis)", False, str(exc)))
    for service in skipped:
        steps.append(Step(f"smoke services.{service}", True, "skipped: no __main__.py yet"))

    table = Table(title=f"nox -s image: {time.monotonic() - total_start:.0f} s in all")
    for col in ("step", "result", "s", "detail"):
        table.add_column(col)
    for s in steps:
        table.add_row(
            s.name, "[green]ok[/]" if s.ok else "[red]FAIL[/]", f"{s.seconds:.1f}", s.detail
        )
    console.print(table)
    if skipped:
        console.print(f"[yellow]not smoke-tested (no __main__.py yet): {', '.join(skipped)}[/]")
    return 0 if all(s.ok for s in steps) and ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

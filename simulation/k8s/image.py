"""Build the harness's images from a locally made base, smoke-test them, optionally push them.

    python -m simulation.k8s.image [--tag tripgen:dev] [--service all|user|…] [--no-smoke]
                                   [--no-stores] [--no-install] [--push REGISTRY]

Steps, each reported with its duration:

1. Docker daemon and a BuildKit CLI (`simulation.k8s.docker`; dockerd is started as root).
2. Base image `tripgen-base:bookworm-py311` (`simulation.k8s.base_image`: debootstrap once, cached
   in `.tripgen/cache/base/`, `docker import`ed).
3. The service image: `docker build --network host` of the Dockerfile with `BASE_IMAGE` set to
   that base; a CA bundle from PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE goes to pip as a
   BuildKit secret.
4. The data-store images the kind simulations run (`simulation.k8s.store_images`: PostgreSQL 15 +
   PostGIS, Redis — the local platform's Debian packages on the same base); `--no-stores` skips.
5. Smoke tests (`simulation.k8s.image_smoke`): every service answers health from the image; each
   data store runs as the rendered kind StatefulSet says and serves the services' URLs.
6. `--push REGISTRY`: push every built image there and print its digest (recorded in
   `.tripgen/images/pushed.json`; `deploy-aks` references the images by those digests).

Exits non-zero when a step fails; prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from simulation.k8s.base_image import BASE_TAG, base_tarball, ensure_base
from simulation.k8s.docker import LOG_DIR, REPO_ROOT, Docker, ImageError, ensure_docker
from simulation.k8s.image_smoke import HEALTH_PATH, backing_env, smoke_service, smoke_store
from simulation.k8s.registry import PushedImage, push, record
from simulation.k8s.store_images import STORE_IMAGES, StoreImage, build_store_image

DEFAULT_TAG = "tripgen:dev"  # what values-kind.yaml runs (image.repository tripgen, tag dev)
SERVICES = ("user", "trip", "ai", "location")


def harness_images(tag: str = DEFAULT_TAG) -> tuple[str, ...]:
    """Every image the harness builds: the service image and the data-store images."""
    return (tag, *(store.ref for store in STORE_IMAGES))


def _ca_bundle() -> Path | None:
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return None


def build_image(docker: Docker, tag: str) -> None:
    """Build the service image (the repository's Dockerfile) on the local base."""
    args = [*docker.build_args(), "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_TAG}"]
    args += ["--tag", tag, "--file", str(REPO_ROOT / "Dockerfile")]
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
    info = json.loads(docker.run("image", "inspect", tag).stdout)[0]
    config = info.get("Config", {})
    return {
        "size": f"{info.get('Size', 0) / 1e6:.0f} MB",
        "user": str(config.get("User")),
        "healthcheck": "none" if not config.get("Healthcheck") else "present",
    }


# --------------------------------------------------------------------------- CLI


@dataclass
class Step:
    name: str
    ok: bool = True
    detail: str = ""
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass
class Run:
    """The steps of one `nox -s image`, printed as they finish and summarised at the end."""

    console: Console
    steps: list[Step] = field(default_factory=list)
    docker: Docker | None = None
    started: float = field(default_factory=time.monotonic)

    def step(self, name: str, fn: Callable[[], str]) -> bool:
        step = Step(name)
        start = time.monotonic()
        self._print(f"[bold]{name}[/] …")
        try:
            step.detail = fn() or ""
        except ImageError as exc:
            step.ok, step.errors = False, str(exc).splitlines()
        except Exception as exc:  # report, never hide, an unexpected failure
            step.ok, step.errors = False, [f"{type(exc).__name__}: {exc}"]
        step.seconds = time.monotonic() - start
        mark = "[green]ok[/]" if step.ok else "[red]FAIL[/]"
        self._print(f"{mark} {name} ({step.seconds:.1f} s) {step.detail}")
        for line in step.errors[-40:]:
            self._print(f"    {line}", style="red", markup=False, highlight=False)
        self.steps.append(step)
        return step.ok

    def need_docker(self) -> Docker:
        assert self.docker is not None, "the docker step runs first"
        return self.docker

    def _print(self, text: object, **kwargs: Any) -> None:
        self.console.print(text, **kwargs)

    def summary(self) -> int:
        from rich.table import Table

        table = Table(title=f"nox -s image: {time.monotonic() - self.started:.0f} s in all")
        for col in ("step", "result", "s", "detail"):
            table.add_column(col)
        for s in self.steps:
            mark = "[green]ok[/]" if s.ok else "[red]FAIL[/]"
            table.add_row(s.name, mark, f"{s.seconds:.1f}", s.detail)
        self._print(table)
        return 0 if self.steps and all(s.ok for s in self.steps) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulation.k8s.image", description=__doc__)
    parser.add_argument("--tag", default=os.environ.get("TRIPGEN_IMAGE_TAG", DEFAULT_TAG))
    parser.add_argument(
        "--service",
        choices=(*SERVICES, "all"),
        default=os.environ.get("TRIPGEN_IMAGE_SMOKE_SERVICE", "all"),
        help="service(s) the smoke test runs (default all)",
    )
    parser.add_argument("--no-smoke", action="store_true", help="build only")
    parser.add_argument("--no-stores", action="store_true", help="skip the data-store images")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install docker.io / debootstrap"
    )
    parser.add_argument(
        "--push",
        metavar="REGISTRY",
        help="push every built image to REGISTRY (host[:port][/path]) and print its digest",
    )
    return parser


def _build_steps(run: Run, args: argparse.Namespace) -> bool:
    allow_install = not args.no_install

    def docker_step() -> str:
        run.docker = ensure_docker(allow_install=allow_install)
        server = run.docker.run("version", "--format", "{{.Server.Version}}").stdout.strip()
        how = "started by this run (root)" if run.docker.started_daemon else "already running"
        builder = "buildx" if run.docker.buildx else "DOCKER_BUILDKIT=1"
        return f"daemon {server} {how}; CLI {run.docker.cli} ({builder})"

    def base_step() -> str:
        how = ensure_base(run.need_docker(), allow_install=allow_install)
        return f"{BASE_TAG} {how} ({base_tarball().relative_to(REPO_ROOT)})"

    def service_step() -> str:
        build_image(run.need_docker(), args.tag)
        facts = image_facts(run.need_docker(), args.tag)
        return (
            f"{args.tag}: {facts['size']}, user {facts['user']}, healthcheck {facts['healthcheck']}"
        )

    ok = run.step("docker daemon", docker_step)
    ok = ok and run.step("base image", base_step)
    ok = ok and run.step("build service image", service_step)
    for store in () if args.no_stores else STORE_IMAGES:

        def store_step(store: StoreImage = store) -> str:
            build_store_image(run.need_docker(), store)
            facts = image_facts(run.need_docker(), store.ref)
            return f"{store.ref}: {facts['size']}, user {facts['user']}"

        ok = run.step(f"build {store.name} image", store_step) and ok
    return ok


def _smoke_steps(run: Run, args: argparse.Namespace) -> None:
    wanted = SERVICES if args.service == "all" else (args.service,)
    try:
        with backing_env() as backing:
            for service in wanted:

                def step(service: str = service) -> str:
                    res = smoke_service(run.need_docker(), args.tag, service, backing)
                    return (
                        f"{HEALTH_PATH} → {res.liveness} after {res.seconds:.1f} s; "
                        f"readiness → {res.readiness}"
                    )

                run.step(f"smoke services.{service} (--network host)", step)
    except Exception as exc:  # backing services could not start: a failed step, not a crash
        run.steps.append(Step("backing services (PostgreSQL + Redis)", False, str(exc)))
    if args.no_stores:
        return
    from simulation.k8s import chart

    docs = chart.render("dev+kind")
    for store in STORE_IMAGES:

        def store_step(name: str = store.name) -> str:
            return smoke_store(run.need_docker(), name, docs)

        run.step(f"smoke {store.name} as the dev+kind StatefulSet runs it", store_step)


def _push_step(run: Run, args: argparse.Namespace) -> None:
    images = (args.tag,) if args.no_stores else harness_images(args.tag)

    def step() -> str:
        pushed: list[PushedImage] = [push(run.need_docker(), ref, args.push) for ref in images]
        path = record(pushed)
        for p in pushed:
            print(f"pushed {p.local} → {p.ref}", flush=True)
        return f"{len(pushed)} image(s) by digest; recorded in {path.relative_to(REPO_ROOT)}"

    run.step(f"push to {args.push}", step)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run = Run(Console(width=None if sys.stdout.isatty() else 140))
    if _build_steps(run, args):
        if not args.no_smoke:
            _smoke_steps(run, args)
        if args.push and all(s.ok for s in run.steps):
            _push_step(run, args)
    return run.summary()


if __name__ == "__main__":
    raise SystemExit(main())

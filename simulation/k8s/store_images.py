"""The data-store images the kind simulations run: PostgreSQL 15 + PostGIS and Redis.

Built like the service image, from the locally made Debian base (`simulation.k8s.base_image`),
with the Debian packages the local platform runs (`simulation.backing.binaries.DEBIAN_PACKAGES`),
so the kind path needs no registry; `images/postgres` and `images/redis` hold their Dockerfiles.
The chart's `postgresql.image` / `redis.image` in values.yaml name these references; a test keeps
the two in step, and `kind load` puts them into the cluster beside the service image.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from simulation.backing.binaries import DEBIAN_PACKAGES, PG_MAJOR
from simulation.k8s.base_image import BASE_TAG
from simulation.k8s.docker import LOG_DIR, REPO_ROOT, Docker, ImageError

IMAGES_DIR = REPO_ROOT / "images"


@dataclass(frozen=True)
class StoreImage:
    """One data-store image: what it is, where its Dockerfile lives, which packages it installs."""

    name: str  # postgresql | redis (the chart's key)
    repository: str
    tag: str
    context: Path
    packages: tuple[str, ...]
    build_args: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


POSTGRESQL = StoreImage(
    name="postgresql",
    repository="tripgen-postgresql",
    tag=f"{PG_MAJOR}-postgis-3-bookworm",
    context=IMAGES_DIR / "postgres",
    packages=tuple(p for p in DEBIAN_PACKAGES if p.startswith("postgresql-")),
    build_args=(("PG_MAJOR", str(PG_MAJOR)),),
)
REDIS = StoreImage(
    name="redis",
    repository="tripgen-redis",
    tag="7.0-bookworm",  # Debian 12's redis-server is 7.0
    context=IMAGES_DIR / "redis",
    packages=tuple(p for p in DEBIAN_PACKAGES if p.startswith("redis-")),
)
STORE_IMAGES: tuple[StoreImage, ...] = (POSTGRESQL, REDIS)


def build_args(store: StoreImage, docker: Docker) -> list[str]:
    """The docker arguments that build `store` from the local base."""
    args = [*docker.build_args(), "--network", "host"]
    args += ["--build-arg", f"BASE_IMAGE={BASE_TAG}"]
    args += ["--build-arg", f"PACKAGES={' '.join(store.packages)}"]
    for key, value in store.build_args:
        args += ["--build-arg", f"{key}={value}"]
    return [*args, "--tag", store.ref, str(store.context)]


def build_store_image(docker: Docker, store: StoreImage) -> None:
    """`docker build` one data-store image (apt-get runs inside, on the host's network)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    logfile = LOG_DIR / f"image-build-{store.name}.log"
    with logfile.open("w") as out:
        proc = subprocess.run(
            [docker.cli, *build_args(store, docker)],
            env={**docker.env, "BUILDKIT_PROGRESS": "plain"},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=1800,
        )
    if proc.returncode != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-30:]
        raise ImageError(f"building {store.ref} failed (full log: {logfile}):\n" + "\n".join(tail))

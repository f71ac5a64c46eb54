"""The locally made Debian base every TripGen image builds on: `tripgen-base:bookworm-py311`.

No image registry is reachable where the harness runs, so the base is Debian 12 minbase + python3
3.11 + venv + CA certificates made with `debootstrap` once, the root filesystem tarred to
`.tripgen/cache/base/` (reused by later runs and CI) and `docker import`ed. Its apt sources are
the same suites the host installs from (bookworm, bookworm-updates, bookworm-security), so an
image that apt-installs a package gets the version the local platform runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from simulation.k8s.docker import (
    REPO_ROOT,
    Docker,
    ImageError,
    image_exists,
    install_package,
    is_root,
    log,
    run,
)

CACHE_DIR = REPO_ROOT / ".tripgen" / "cache" / "base"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("TRIPGEN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get(
    "TRIPGEN_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security"
)
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_TAG = "tripgen-base:bookworm-py311"
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


def sources_list() -> str:
    """The image's apt sources: the suites the host installs the local platform's packages from."""
    return (
        f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
        f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main\n"
        f"deb {DEBIAN_SECURITY_MIRROR} {DEBIAN_SUITE}-security main\n"
    )


def base_tarball() -> Path:
    """The cached root filesystem; its name changes with the suite, sources and package list."""
    src = f"{DEBIAN_SUITE} {' '.join(BASE_PACKAGES)} {sources_list()}"
    key = hashlib.sha256(src.encode()).hexdigest()[:10]
    return CACHE_DIR / f"{DEBIAN_SUITE}-python3-{key}.tar.gz"


def build_base_tarball(*, allow_install: bool = True) -> Path:
    """debootstrap Debian minbase + python3 into a temp dir and tar it into the cache."""
    target = base_tarball()
    if not is_root():
        raise ImageError(f"debootstrap needs root (or put a prebuilt tarball at {target})")
    if not shutil.which("debootstrap"):
        if not allow_install:
            raise ImageError("debootstrap is missing: apt-get install debootstrap")
        install_package("debootstrap", "the locally made Debian base image")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tripgen-rootfs-", dir=CACHE_DIR) as tmp:
        root = Path(tmp) / "rootfs"
        log(
            f"debootstrap --variant=minbase {DEBIAN_SUITE} + {', '.join(BASE_PACKAGES)} "
            "(about a minute) …"
        )
        run(
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
        (root / "etc" / "apt" / "sources.list").write_text(sources_list(), encoding="utf-8")
        for rel in TRIM_PATHS:
            path = root / rel
            if path.is_dir():
                shutil.rmtree(path)
                path.mkdir(parents=True)
        partial = target.with_suffix(".partial")
        run(["tar", "-C", str(root), "--numeric-owner", "-czf", str(partial), "."])
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

"""Pushing the harness's images to a registry, and a real registry on loopback to push to.

`nox -s image -- --push REGISTRY` tags each built image as `REGISTRY/<repository>:<tag>`, pushes
it, reads the digest the registry stored, and records `{image: registry, repository, digest}` in
`.tripgen/images/pushed.json`; `deploy-aks` turns that record into the chart's `image.*` values so
the cluster pulls exactly the pushed bytes (by digest, never by a mutable tag).

`RegistryServer` runs Debian's `docker-registry` (the CNCF distribution registry 2.8) on a free
loopback port: Docker treats 127.0.0.0/8 registries as insecure (plain HTTP) by default, so the
push path is tested against a real registry without TLS set-up.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from simulation.backing.errors import BackingServiceError
from simulation.backing.processes import POLL_S, spawn, terminate
from simulation.backing.server import ServerProcess
from simulation.k8s.docker import REPO_ROOT, Docker, ImageError, install_package

PUSHED_RECORD = REPO_ROOT / ".tripgen" / "images" / "pushed.json"
REGISTRY_PACKAGE = "docker-registry"
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$")


@dataclass(frozen=True)
class PushedImage:
    """An image as a cluster pulls it: `registry/repository@digest`."""

    local: str  # what was built, e.g. tripgen:dev
    registry: str
    repository: str
    digest: str

    @property
    def ref(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def check_registry(registry: str) -> str:
    """`REGISTRY` as given to --push (`host[:port][/path]`, no scheme), or a clear error."""
    registry = registry.strip().rstrip("/")
    if "://" in registry or not _REGISTRY.match(registry):
        raise ImageError(
            f"--push {registry!r}: give a registry as host[:port][/path], e.g. "
            "tripgenprod.azurecr.io or 127.0.0.1:5000 (no scheme)"
        )
    return registry


def push(docker: Docker, local: str, registry: str) -> PushedImage:
    """Tag `local` (`repository:tag`) into `registry`, push it, return the stored digest."""
    registry = check_registry(registry)
    repository, _, tag = local.rpartition(":")
    if not repository:
        raise ImageError(f"{local!r} has no tag; push needs repository:tag")
    remote = f"{registry}/{repository}:{tag}"
    docker.run("tag", local, remote)
    out = docker.run("push", remote, timeout=1800)
    found = _DIGEST.findall(out.stdout + out.stderr)
    if not found:
        raise ImageError(f"docker push {remote} printed no digest:\n{out.stdout[-1000:]}")
    return PushedImage(local, registry, repository, found[-1])


def record(pushed: list[PushedImage], path: Path = PUSHED_RECORD) -> Path:
    """Write what was pushed, keyed by local image, for `deploy-aks` to reference by digest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {p.local: {**asdict(p), "ref": p.ref, "pushed_at": time.time()} for p in pushed}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def load_record(path: Path = PUSHED_RECORD) -> dict[str, PushedImage]:
    """The last push record (empty when nothing was pushed)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ImageError(f"{path} is unreadable: {exc}") from exc
    return {
        local: PushedImage(local, item["registry"], item["repository"], item["digest"])
        for local, item in raw.items()
    }


def manifest_digest(registry_url: str, repository: str, reference: str) -> str:
    """The digest a registry reports for `repository:reference` (`Docker-Content-Digest`)."""
    request = urllib.request.Request(
        f"{registry_url}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def ensure_registry_binary(*, allow_install: bool) -> str:
    """Debian's docker-registry binary, installed with apt-get (as root) when allowed."""
    found = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if Path(found).exists():
        return found
    if not allow_install:
        raise ImageError(f"docker-registry is missing: apt-get install {REGISTRY_PACKAGE}")
    install_package(REGISTRY_PACKAGE, "a registry on loopback to push the images to")
    return shutil.which("docker-registry") or "/usr/bin/docker-registry"


class RegistryServer(ServerProcess):
    """Debian's `docker-registry` serving from `workdir/storage` on `host:port` (plain HTTP)."""

    name = "docker-registry"

    def __init__(self, workdir: Path, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(
            workdir,
            port=port,
            host=host,
            log_name="registry.log",
            ready_timeout_s=30.0,
            binaries=None,
        )
        self._binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"

    @property
    def address(self) -> str:
        """What `docker push` takes: `127.0.0.1:PORT`."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def begin_start(self) -> None:
        if self.is_running():
            return
        if not Path(self._binary).exists():
            raise BackingServiceError(
                f"{self._binary} is missing: apt-get install {REGISTRY_PACKAGE}"
            )
        self._arm_deadline()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.workdir / 'storage'}\n"
            f"http:\n  addr: {self.address}\n"
            "log:\n  level: warn\n",
            encoding="utf-8",
        )
        self._process = spawn(
            [self._binary, "serve", str(config)],
            log=self.log_path,
            cwd=self.workdir,
            account=None,
            death_signal=signal.SIGTERM,
        )

    def finish_start(self) -> None:
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            self._check_time()
            time.sleep(POLL_S)

    def stop(self) -> None:
        if self._process is not None:
            terminate(self._process, [(signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)])
            self._process = None

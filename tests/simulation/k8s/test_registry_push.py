"""`nox -s image -- --push REGISTRY` pushes to a real registry and records what the cluster
must pull: Debian's docker-registry on loopback, a real Docker daemon (CI starts both; there a
missing one fails, never skips)."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.backing import is_ci
from simulation.k8s.docker import Docker, ImageError
from simulation.k8s.registry import (
    RegistryServer,
    check_registry,
    ensure_registry_binary,
    load_record,
    manifest_digest,
    push,
    record,
)

PROBE = "tripgen-push-probe:test"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    try:
        ensure_registry_binary(allow_install=is_ci())
    except ImageError as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def probe_image(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-file image made with `docker import` (no registry needed to make it)."""
    root = tmp_path_factory.mktemp("probe")
    (root / "hello.txt").write_text("tripgen push probe\n")
    archive = root / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root / "hello.txt", arcname="hello.txt")
    docker.run("import", str(archive), PROBE)
    return PROBE


def test_push_reports_the_digest_the_registry_stored(
    docker: Docker, registry: RegistryServer, probe_image: str, tmp_path: Path
) -> None:
    pushed = push(docker, probe_image, registry.address)
    assert pushed.ref == f"{registry.address}/tripgen-push-probe@{pushed.digest}"
    assert manifest_digest(registry.url, "tripgen-push-probe", "test") == pushed.digest
    # the cluster pulls by digest: a pull of exactly that reference works
    docker.run("rmi", f"{registry.address}/tripgen-push-probe:test")
    docker.run("pull", pushed.ref, timeout=120)
    path = record([pushed], tmp_path / "pushed.json")
    assert load_record(path)[probe_image].digest == pushed.digest


def test_a_registry_that_does_not_answer_is_an_error(docker: Docker, probe_image: str) -> None:
    with pytest.raises(ImageError, match="exited"):
        push(docker, probe_image, "127.0.0.1:9")


@pytest.mark.parametrize("bad", ["https://tripgen.azurecr.io", "tripgen azurecr", ""])
def test_a_registry_is_host_port_path(bad: str) -> None:
    with pytest.raises(ImageError, match="give a registry as host"):
        check_registry(bad)


def test_good_registries_pass() -> None:
    assert check_registry("tripgenprod.azurecr.io/") == "tripgenprod.azurecr.io"
    assert check_registry("127.0.0.1:5000/team") == "127.0.0.1:5000/team"

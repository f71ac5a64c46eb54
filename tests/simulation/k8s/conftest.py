"""Fixtures of the offline Kubernetes checks: the rendered chart (shared with `tests/chart`) and a
Docker daemon for the image tests.

The image tests need the images `nox -s image` builds; CI builds them before pytest (noxfile.py
`tests`), so there a missing daemon or image is a failure, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulation.backing import is_ci
from simulation.k8s.docker import Docker, ImageError, daemon_up, ensure_docker, image_exists
from simulation.k8s.kubeapi import KubeApi
from tests.chart.conftest import dev, helm, prod, prod_kind, render
from tests.simulation.k8s.fake_kube_api import FakeCluster, non_loopback_address, write_kubeconfig

__all__ = ["dev", "docker", "fake_api", "helm", "need_image", "prod", "prod_kind", "render"]


def _missing(reason: str) -> None:
    if is_ci():
        pytest.fail(f"{reason} (CI builds the images before the tests: noxfile.py `tests`)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker() -> Docker:
    """A Docker daemon: the running one; in CI one this fixture starts (root, dockerd)."""
    if not is_ci() and not (daemon_up("docker") or daemon_up("/usr/bin/docker")):
        pytest.skip("no Docker daemon answers `docker info` (`nox -s image` starts one as root)")
    try:
        return ensure_docker(allow_install=is_ci())
    except ImageError as exc:
        _missing(f"no Docker daemon: {exc}")
        raise


def need_image(docker: Docker, ref: str) -> None:
    """Skip (fail in CI) unless `ref` was built."""
    if not image_exists(docker, ref):
        _missing(f"no {ref} image (`nox -s image` builds it)")


@dataclass
class FakeApi:
    """A running fake API server, a kubeconfig naming it, and clients for its contexts."""

    cluster: FakeCluster
    url: str
    kubeconfig: Path

    def api(self, context: str = "kind-tripgen-prod-sim") -> KubeApi:
        return KubeApi.for_context(context, str(self.kubeconfig))


@pytest.fixture
def fake_api(tmp_path: Path) -> Iterator[FakeApi]:
    """The fake cluster on loopback, reachable as `kind-tripgen-prod-sim` and `kind-tripgen-dev-sim`
    (as kind writes them) and as an AKS-like context whose server is not loopback."""
    cluster = FakeCluster()
    with cluster.serve(bind="0.0.0.0") as url:
        port = url.rsplit(":", 1)[1]
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig",
            {
                "kind-tripgen-prod-sim": url,
                "kind-tripgen-dev-sim": url,
                # the same fake, reached on a non-loopback address as an AKS API server is
                "tripgen-prod-aks": f"http://{non_loopback_address()}:{port}",
            },
        )
        yield FakeApi(cluster, url, kubeconfig)

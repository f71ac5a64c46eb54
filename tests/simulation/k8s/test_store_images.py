"""The data-store images: kind runs only images the harness builds and loads (or pinned by
digest), built from the local platform's Debian packages, and each serves its rendered StatefulSet.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import yaml

from simulation.backing.binaries import DEBIAN_PACKAGES
from simulation.k8s import chart, image
from simulation.k8s.docker import Docker
from simulation.k8s.image_smoke import smoke_store
from simulation.k8s.store_images import POSTGRESQL, REDIS, STORE_IMAGES
from tests.chart.chart_support import Doc
from tests.simulation.k8s.conftest import need_image

KIND_PROFILES = ("prod+kind", "dev+kind", "ci:kind-keda")
DIGEST_PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")


def pod_images(docs: list[Doc]) -> set[str]:
    """Every image a rendered pod template names (containers and init containers)."""
    found = set()
    for doc in docs:
        template = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in template.get("containers", []) + template.get("initContainers", []):
            found.add(c["image"])
    return found


@pytest.mark.parametrize("profile", KIND_PROFILES)
def test_kind_runs_only_images_the_harness_builds_and_loads(
    profile: str, render: Callable[[str], list[Doc]]
) -> None:
    # kind has no registry to pull from: every image is loaded with `kind load` (pullPolicy
    # Never), or pinned by digest where a registry is reachable. Bitnami's images are gone.
    docs = render(profile)
    images = pod_images(docs)
    built = set(image.harness_images())
    assert images, "no pod templates rendered"
    strays = {i for i in images if i not in built and not DIGEST_PINNED.search(i)}
    assert not strays, f"{profile} runs images the harness neither builds nor pins: {strays}"
    assert {POSTGRESQL.ref, REDIS.ref} <= images
    for doc in docs:
        template = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in template.get("containers", []) + template.get("initContainers", []):
            if c["image"] in built:
                assert c["imagePullPolicy"] == "Never", f"{doc['metadata']['name']} may pull"


def test_a_store_image_from_a_registry_must_be_pinned(render: Callable[[str], list[Doc]]) -> None:
    digest = "sha256:" + "ab" * 32
    pinned = chart.render(
        "dev+kind",
        (
            "postgresql.image.registry=docker.io",
            "postgresql.image.repository=postgis/postgis",
            f"postgresql.image.digest={digest}",
        ),
    )
    assert f"docker.io/postgis/postgis@{digest}" in pod_images(pinned)


def test_chart_defaults_name_the_images_the_harness_builds() -> None:
    values = yaml.safe_load((chart.CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    for store in STORE_IMAGES:
        img = values[store.name]["image"]
        assert (img["registry"], f"{img['repository']}:{img['tag']}") == ("", store.ref)


def test_store_images_install_the_local_platforms_debian_packages() -> None:
    # the same packages the local platform installs (simulation/backing/binaries.py)
    assert set(POSTGRESQL.packages) | set(REDIS.packages) == set(DEBIAN_PACKAGES)
    for store in STORE_IMAGES:
        dockerfile = (store.context / "Dockerfile").read_text(encoding="utf-8")
        assert "ARG BASE_IMAGE=tripgen-base:bookworm-py311" in dockerfile
        assert "${PACKAGES}" in dockerfile
        assert re.search(r"^USER 1001:1001$", dockerfile, flags=re.MULTILINE)


@pytest.mark.parametrize("store", ["postgresql", "redis"])
def test_store_image_serves_the_rendered_statefulset(
    docker: Docker, store: str, render: Callable[[str], list[Doc]]
) -> None:
    # the chart's env, args, volumes and security context under Docker; reached with the
    # services' own URLs (simulation/k8s/image_smoke.py)
    ref = POSTGRESQL.ref if store == "postgresql" else REDIS.ref
    need_image(docker, ref)
    detail = smoke_store(docker, store, render("prod+kind"), timeout_s=90)
    assert "probe passed" in detail
    if store == "postgresql":
        assert "PostGIS" in detail
        assert "pg_trgm" in detail
    else:
        assert "allkeys-lru" in detail

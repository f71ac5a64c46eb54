"""The service image's Dockerfile: multi-stage, non-root, any service by command, no HEALTHCHECK.

The build itself and the health smoke test are `nox -s image` (`python -m simulation.k8s.image`);
the last test checks the built image (CI builds it before the tests, so there it never skips).
"""

from __future__ import annotations

import json
import re

from simulation.k8s import base_image, chart, image
from simulation.k8s.docker import Docker
from tests.simulation.k8s.conftest import need_image

DOCKERFILE = (image.REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
INSTRUCTIONS = [
    line.split()[0].upper()
    for line in DOCKERFILE.splitlines()
    if line.strip() and not line.startswith((" ", "#", "\t"))
]


def test_base_image_is_an_argument_defaulting_to_python_slim() -> None:
    assert "ARG BASE_IMAGE=python:3.11-slim" in DOCKERFILE
    froms = re.findall(r"^FROM (\S+) AS (\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert froms == [("${BASE_IMAGE}", "builder"), ("${BASE_IMAGE}", "runtime")]


def test_runtime_is_non_root_without_healthcheck() -> None:
    runtime = DOCKERFILE[DOCKERFILE.index("AS runtime") :]
    assert "USER 10001:10001" in runtime
    assert "HEALTHCHECK" not in INSTRUCTIONS  # Kubernetes probes instead
    assert "EXPOSE 8080" in runtime
    # the runtime stage copies only the venv and the services package from the builder
    assert re.findall(r"^COPY --from=builder (\S+)", runtime, flags=re.MULTILINE) == [
        "/opt/venv",
        "/app",
    ]
    # no `# syntax=` directive: no frontend image to pull where no registry is reachable
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, flags=re.MULTILINE)


def test_chart_uid_matches_the_image() -> None:
    values = chart.parse((chart.CHART_DIR / "values.yaml").read_text())[0]
    assert values["podSecurityContext"]["runAsUser"] == 10001
    assert values["podSecurityContext"]["runAsGroup"] == 10001


def test_dockerignore_sends_only_what_the_image_needs() -> None:
    lines = (image.REPO_ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!services/"} <= set(rules)


def test_every_chart_command_is_a_module_of_the_image(dev: list[dict]) -> None:
    # docs/contracts.md: processes and commands; the image holds services/ only
    for dep in chart.find(dev, "Deployment") + chart.find(dev, "Job"):
        command = dep["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[:2] == ["python", "-m"]
        assert command[2].startswith("services.")


def test_base_tarball_name_tracks_the_package_list() -> None:
    name = base_image.base_tarball().name
    assert name.startswith("bookworm-python3-")
    assert name.endswith(".tar.gz")
    assert base_image.base_tarball().parent == image.REPO_ROOT / ".tripgen" / "cache" / "base"


def test_base_image_installs_from_the_hosts_suites() -> None:
    # the data-store images apt-install the local platform's packages: same suites as the host
    suites = [line.split()[2] for line in base_image.sources_list().splitlines()]
    assert suites == ["bookworm", "bookworm-updates", "bookworm-security"]


def test_built_image(docker: Docker) -> None:
    need_image(docker, image.DEFAULT_TAG)
    info = json.loads(docker.run("image", "inspect", image.DEFAULT_TAG).stdout)[0]
    config = info["Config"]
    assert config["User"] == "10001:10001"
    assert not config.get("Healthcheck")
    assert "8080/tcp" in config["ExposedPorts"]

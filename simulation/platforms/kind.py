"""The `kind` platform: a multi-node kind cluster labelled as three zones, the chart on top.

    up (cluster-up)   host preflight (inotify, Docker memory and disk, kind and Docker versions)
                      → kind create cluster from the generated config (every node labelled as the
                      harness's) → the context checked to be that cluster → zone labels checked
                      (relabelled on mismatch) → metrics-server (--kubelet-insecure-tls) and
                      ingress-nginx at pinned versions, waiting for the controller pod to exist
                      and be ready
    deploy            images built from the local base (service, PostgreSQL + PostGIS, Redis) →
                      `kind load` each → helm upgrade --install with values-<profile>.yaml +
                      values-kind.yaml → every workload rolled out and every HPA at its minimum
                      with ready pods; on failure a summary of failing pods and their events
    down              helm uninstall (the cluster stays; cluster-down deletes it)

Every step that changes the cluster uses the context `kind-<cluster>` explicitly and first checks,
through that context's API, that it is a kind cluster this harness created
(`simulation.k8s.harness_context`). Commands go through a `CommandRunner` and the cluster is read
and changed through its API (`simulation.k8s.kubeapi`); the tests drive both against fakes that
answer like kind, Helm and the API server. No kind cluster has run in this repository's CI.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from simulation.k8s import kind_preflight, topology
from simulation.k8s.harness_context import NotHarnessCluster, check_harness_kind
from simulation.k8s.image import harness_images
from simulation.k8s.kubeapi import CORE, KubeApi, KubeApiError
from simulation.k8s.waits import WaitTimeout, wait_pods_ready
from simulation.platforms import argo_rollouts
from simulation.platforms.base import (
    DeploymentStatus,
    Endpoints,
    KilledReplica,
    NotDeployed,
    PlatformError,
)
from simulation.platforms.kube import NAMESPACE, RELEASE, ApiFactory, Kube, check_prerequisites
from simulation.platforms.runner import CommandFailed, CommandRunner
from simulation.profiles import SERVICES, zone_index
from simulation.profiles import profile as check_profile
from simulation.state import DeploymentState, clear_state, load_state, run_dir, save_state

NAME = "kind"
REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "tripgen"

# Pinned add-ons, installed from their upstream sources by version (not copied into this repo).
METRICS_SERVER_CHART_REPO = "https://kubernetes-sigs.github.io/metrics-server/"
METRICS_SERVER_CHART_VERSION = "3.12.2"  # metrics-server v0.7.2
INGRESS_NGINX_VERSION = "controller-v1.12.1"
INGRESS_NGINX_MANIFEST = (
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/"
    f"{INGRESS_NGINX_VERSION}/deploy/static/provider/kind/deploy.yaml"
)  # the kind provider manifest the kind ingress guide applies
INGRESS_CONTROLLER = ("ingress-nginx", "app.kubernetes.io/component=controller")

BASE_URL = "http://127.0.0.1"  # ingress-nginx on the control plane, host port 80 (kind config)
TOOLS = ("docker", "kind", "kubectl", "helm")

CREATE_TIMEOUT_S = 600
ADDON_TIMEOUT_S = 300
DEPLOY_TIMEOUT_S = 900
IMAGE_BUILD_TIMEOUT_S = 3600


def simulation_of(profile: str) -> str:
    """`prod` → `prod-sim` (the kind simulation standing in for a profile)."""
    for sim, prof in topology.SIMULATIONS.items():
        if prof == profile:
            return sim
    raise PlatformError(f"no kind simulation for profile {profile!r}")


def cluster_name(profile: str) -> str:
    return f"tripgen-{simulation_of(profile)}"  # the `name` in topology.kind_config


def context_name(profile: str) -> str:
    return f"kind-{cluster_name(profile)}"  # kind's kubeconfig context naming


def host_platform() -> str:
    """The Docker platform of this machine (`linux/amd64`, `linux/arm64`)."""
    machine = platform.machine().lower()
    return "linux/" + {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def expected_zones(profile: str) -> dict[str, str]:
    """Worker node name → zone, as kind names workers (`<cluster>-worker`, `-worker2`, …) in the
    order of the generated config."""
    cluster = cluster_name(profile)
    workers = [
        n for n in topology.kind_config(simulation_of(profile))["nodes"] if n["role"] == "worker"
    ]
    return {
        f"{cluster}-worker{'' if i == 0 else i + 1}": node["labels"][topology.ZONE_LABEL]
        for i, node in enumerate(workers)
    }


def _read_int(path: str) -> int:
    try:
        return int(Path(path).read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return 0


class KindPlatform:
    name = NAME

    def __init__(
        self,
        directory: Path | None = None,
        *,
        runner: CommandRunner,
        console: Console | None = None,
        api_factory: ApiFactory = KubeApi.for_context,
        poll_s: float = 2.0,
        release_timeout_s: float = 600,
        drain_timeout_s: float = 120,
        sysctl: Callable[[str], int] = _read_int,
        values_files: Sequence[Path] = (),
    ) -> None:
        self.run_dir = run_dir(directory)
        self.values_files = list(values_files)  # layered after the profile's and kind's
        self.runner = runner
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.api_factory = api_factory
        self.poll_s = poll_s
        self.release_timeout_s = release_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.sysctl = sysctl

    # ------------------------------------------------------------------ cluster

    def up(self, profile: str) -> None:
        check_profile(profile)
        self._check_tools()
        cluster = cluster_name(profile)
        if cluster in self.clusters():
            self.console.print(f"kind cluster {cluster} exists; reusing it")
        else:
            self.preflight(profile)
            config = self._write_config(profile)
            self.console.print(f"creating kind cluster {cluster} from {config} …")
            self.runner.run(
                ["kind", "create", "cluster", "--name", cluster, "--config", str(config),
                 "--wait", "180s"],
                timeout=CREATE_TIMEOUT_S,
            )  # fmt: skip
        kube = self._kube(profile)
        self._ensure_zone_labels(profile, kube)
        self._install_metrics_server(kube)
        self._install_ingress_nginx(kube)

    def preflight(self, profile: str) -> list[kind_preflight.Check]:
        """Check the host can run the simulation's nodes; raise naming what to change."""
        sim = simulation_of(profile)
        info = kind_preflight.parse_docker_info(
            self.runner.run(["docker", "info", "--format", "{{json .}}"], timeout=30).stdout
        )
        root = str(info.get("DockerRootDir") or "/")
        facts = kind_preflight.HostFacts(
            kind_version=self.runner.run(["kind", "version"], check=False, timeout=30).stdout,
            docker_info=info,
            free_disk_bytes=shutil.disk_usage(root if os.path.isdir(root) else "/").free,
            inotify_watches=self.sysctl("/proc/sys/fs/inotify/max_user_watches"),
            inotify_instances=self.sysctl("/proc/sys/fs/inotify/max_user_instances"),
        )
        results = kind_preflight.checks(sim, facts)
        if kind_preflight.failures(results):
            raise PlatformError(
                f"this host cannot run the {sim} kind cluster yet; change:\n"
                + kind_preflight.report(results)
            )
        self.console.print(f"preflight: {len(results)} checks passed for {sim}")
        return results

    def clusters(self) -> list[str]:
        out = self.runner.run(["kind", "get", "clusters"], timeout=60).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def delete_clusters(self, profile: str | None = None) -> list[str]:
        """cluster-down: delete the profile's cluster, or every TripGen cluster."""
        check_prerequisites(self.runner, ("kind",))
        wanted = (
            [cluster_name(profile)]
            if profile
            else [cluster_name(p) for p in topology.SIMULATIONS.values()]
        )
        existing = self.clusters()
        deleted = []
        for cluster in wanted:
            if cluster in existing:
                self.runner.run(["kind", "delete", "cluster", "--name", cluster], timeout=300)
                deleted.append(cluster)
        state = load_state(self.run_dir)
        if state and state.platform == NAME and state.details.get("cluster") in deleted:
            clear_state(self.run_dir)
        return deleted

    # ------------------------------------------------------------------ deployment

    def deploy(self, profile: str) -> Endpoints:
        check_profile(profile)
        self._check_tools()
        cluster = cluster_name(profile)
        if cluster not in self.clusters():
            self.up(profile)
        kube = self._kube(profile)
        images = self._build_images()
        for ref in images:
            self._load_image(cluster, ref)
        values = [CHART_DIR / f"values-{profile}.yaml", CHART_DIR / "values-kind.yaml"]
        values += self.values_files
        if argo_rollouts.enabled_in(values):  # Rollout objects need the CRDs and the controller
            argo_rollouts.install(kube, timeout_s=ADDON_TIMEOUT_S, poll_s=self.poll_s)
        self.console.print(f"helm upgrade --install {RELEASE} ({profile} + kind overlay) …")
        try:
            kube.helm(
                "upgrade", "--install", RELEASE, str(CHART_DIR),
                "--namespace", NAMESPACE, "--create-namespace",
                *[arg for v in values for arg in ("--values", str(v))],
                "--wait", "--wait-for-jobs", f"--timeout={DEPLOY_TIMEOUT_S}s",
                timeout=DEPLOY_TIMEOUT_S + 60,
            )  # fmt: skip
            docs = kube.release_manifest()
            if argo_rollouts.holds_rollouts(docs):
                argo_rollouts.wait_release(
                    kube.api, kube.namespace, docs,
                    timeout_s=self.release_timeout_s, poll_s=self.poll_s,
                )  # fmt: skip
            else:
                kube.wait_release(timeout_s=self.release_timeout_s)
        except (CommandFailed, PlatformError, argo_rollouts.RolloutAborted, WaitTimeout) as exc:
            raise PlatformError(f"deploy on kind failed: {exc}\n{kube.failure_summary()}") from exc
        save_state(
            self.run_dir,
            DeploymentState(
                platform=NAME,
                profile=profile,
                base_url=BASE_URL,
                services={s: BASE_URL for s in SERVICES},
                details={"cluster": cluster, "context": kube.context, "namespace": NAMESPACE,
                         "release": RELEASE, "images": list(images)},
            ),
        )  # fmt: skip
        self.console.print(
            f"[green]deployed[/] profile {profile} on kind ({cluster}) at {BASE_URL}"
        )
        return self.endpoints()

    def down(self) -> None:
        state = self._state()
        kube = self._kube(state.profile)
        kube.helm("uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", timeout=600)
        clear_state(self.run_dir)
        self.console.print(
            f"[green]down[/]: release {RELEASE} uninstalled; the cluster stays "
            "(`nox -s cluster-down` deletes it)"
        )

    def endpoints(self) -> Endpoints:
        state = self._state()
        return Endpoints(base_url=state.base_url, services=dict(state.services))

    def status(self) -> DeploymentStatus:
        state = self._state()
        kube = self._kube(state.profile)
        return DeploymentStatus(NAME, state.profile, state.base_url, kube.replica_statuses())

    # ------------------------------------------------------------------ chaos primitives

    def kill_replica(self, service: str, replica: str | None = None) -> KilledReplica:
        return self._kube(self._state().profile).kill_replica(service, replica)

    def zone_outage(self, zone: str) -> list[str]:
        """Drain the zone's application-pool nodes; the data stores (system pool) stay up."""
        zone_index(zone)  # an unknown zone is the caller's mistake: say so before any API call
        kube = self._kube(self._state().profile)
        nodes, blocked = kube.zone_outage(zone, drain_timeout_s=self.drain_timeout_s)
        for line in blocked:
            # SPEC.md conflict 1 (PDB minAvailable = HPA minimum) shows up here: report it.
            self.console.print(f"[yellow]drain blocked[/] {line}")
        self._record("blocked_drains", blocked)
        return nodes

    def restore(self, zone: str) -> list[str]:
        zone_index(zone)
        return self._kube(self._state().profile).restore(zone)

    def stop_dependency(self, name: str) -> None:
        self._kube(self._state().profile).stop_dependency(name)

    def start_dependency(self, name: str) -> None:
        self._kube(self._state().profile).start_dependency(name)

    # ------------------------------------------------------------------ internals

    def _check_tools(self) -> None:
        check_prerequisites(self.runner, TOOLS)
        info = self.runner.run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False,
                               timeout=30)  # fmt: skip
        if not info.ok:
            raise PlatformError(
                "docker is installed but no Docker daemon answers `docker info`; start it "
                "(e.g. `sudo systemctl start docker` or `sudo dockerd &`)"
            )

    def _kube(self, profile: str) -> Kube:
        """The release on the profile's cluster, after checking the context is that cluster."""
        kube = Kube(self.runner, context=context_name(profile), api_factory=self.api_factory,
                    console=self.console, poll_s=self.poll_s)  # fmt: skip
        try:
            check_harness_kind(kube.api, cluster_name(profile))
        except NotHarnessCluster as exc:
            raise PlatformError(str(exc)) from exc
        return kube

    def _state(self) -> DeploymentState:
        state = load_state(self.run_dir)
        if state is None or state.platform != NAME:
            raise NotDeployed("nothing is deployed on kind; run a deploy with --platform kind")
        return state

    def _record(self, key: str, value: object) -> None:
        state = load_state(self.run_dir)
        if state is not None:
            state.details[key] = value
            state.details[f"{key}_at"] = time.time()
            save_state(self.run_dir, state)

    def _write_config(self, profile: str) -> Path:
        sim = simulation_of(profile)
        path = self.run_dir / "kind" / f"{sim}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(topology.kind_config_yaml(sim), encoding="utf-8")
        return path

    def _ensure_zone_labels(self, profile: str, kube: Kube) -> None:
        """kind applies the config's node labels; check them anyway (the zone label is what
        topology spread and chaos zone outages rely on) and relabel any node that disagrees."""
        actual = kube.node_zones()
        for node, zone in expected_zones(profile).items():
            if node not in actual:
                raise PlatformError(f"kind node {node} is missing (nodes: {', '.join(actual)})")
            if actual[node] != zone:
                self.console.print(f"relabelling {node}: zone {actual[node] or '-'} → {zone}")
                kube.api.merge_patch(
                    f"{CORE}/nodes/{node}", {"metadata": {"labels": {topology.ZONE_LABEL: zone}}}
                )

    def _install_metrics_server(self, kube: Kube) -> None:
        # kind's kubelets serve self-signed certificates, hence --kubelet-insecure-tls.
        kube.helm(
            "upgrade", "--install", "metrics-server", "metrics-server",
            "--repo", METRICS_SERVER_CHART_REPO, "--version", METRICS_SERVER_CHART_VERSION,
            "--namespace", "kube-system", "--set", "args[0]=--kubelet-insecure-tls",
            "--wait", f"--timeout={ADDON_TIMEOUT_S}s",
            timeout=ADDON_TIMEOUT_S + 60,
        )  # fmt: skip

    def _install_ingress_nginx(self, kube: Kube) -> None:
        kube.kubectl("apply", "--filename", INGRESS_NGINX_MANIFEST, namespaced=False, timeout=180)
        # Right after `apply` the controller's pod may not exist yet (`kubectl wait` would fail
        # with "no matching resources found"): wait for it to exist, then to be ready.
        namespace, selector = INGRESS_CONTROLLER
        try:
            wait_pods_ready(kube.api, namespace, selector, timeout_s=ADDON_TIMEOUT_S,
                            poll_s=self.poll_s)  # fmt: skip
        except (WaitTimeout, KubeApiError) as exc:
            raise PlatformError(f"ingress-nginx did not become ready: {exc}") from exc

    def _build_images(self) -> tuple[str, ...]:
        """Build every image the kind manifests run, from the locally made base (no registry)."""
        self.console.print("building the service and data-store images (nox -s image) …")
        self.runner.run(
            [sys.executable, "-m", "simulation.k8s.image", "--no-smoke"],
            timeout=IMAGE_BUILD_TIMEOUT_S,
        )
        return harness_images()

    def _load_image(self, cluster: str, ref: str) -> None:
        loaded = self.runner.run(
            ["kind", "load", "docker-image", ref, "--name", cluster], check=False, timeout=600
        )
        if loaded.ok:
            return
        # Under Docker's containerd image store `kind load docker-image` fails on digests of
        # platforms that were never pulled (kubernetes-sigs/kind#3795); the maintainers'
        # workaround is a single-platform `docker save` loaded as an archive.
        self.console.print(
            f"kind load docker-image {ref} failed; falling back to docker save + image-archive"
        )
        archive = self.run_dir / "kind" / (ref.replace(":", "_").replace("/", "_") + ".tar")
        archive.parent.mkdir(parents=True, exist_ok=True)
        self.runner.run(
            ["docker", "save", "--platform", host_platform(), "--output", str(archive), ref],
            timeout=600,
        )
        self.runner.run(
            ["kind", "load", "image-archive", str(archive), "--name", cluster], timeout=600
        )

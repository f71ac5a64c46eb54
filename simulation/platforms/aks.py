"""The `aks` platform: push the prod profile to the real cluster, gated on the SLA report.

    deploy-aks --kube-context NAME [--values FILE]... [--set KEY=VALUE]... [--force] [--dry-run]

The values are layered as Helm layers them: values-prod.yaml, then the images last pushed by
`nox -s image -- --push REGISTRY` (by digest, from `.tripgen/images/pushed.json`), then each
`--values` file, then each `--set`. The operator's values (Key Vault tenant and client ids, host
names, the managed stores' and App Gateway's subnets, the registry) go in those files: the chart
refuses to render prod without them and names each one.

Order: refuse a failed or missing SLA gate (`--force` overrides with a warning) → render (`helm
template`: the chart's checks, before any cluster is contacted) → preflight against the context
(not kind; metrics-server, the CSI secrets driver, KEDA when used, the IngressClass, zone labels
and the application pool's taint: `simulation.k8s.aks_preflight`) → `helm upgrade --install
--atomic` on that explicit context (never the kubeconfig's current one) → every workload rolled
out and every HPA at its minimum with ready pods. `--dry-run` stops after rendering.

Chaos and teardown are not offered against production from this harness. Not executed here (no
AKS cluster); the tests run it against a fake API server and a Helm that renders for real.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from simulation.k8s import aks_preflight
from simulation.k8s.kubeapi import KubeApi, KubeApiError
from simulation.k8s.registry import PUSHED_RECORD, load_record
from simulation.k8s.waits import WaitTimeout
from simulation.platforms import argo_rollouts
from simulation.platforms.base import (
    DeploymentStatus,
    Endpoints,
    KilledReplica,
    NotDeployed,
    PlatformError,
    Unsupported,
)
from simulation.platforms.kube import NAMESPACE, RELEASE, ApiFactory, Kube, check_prerequisites
from simulation.platforms.runner import CommandFailed, CommandRunner
from simulation.profiles import SERVICES
from simulation.state import run_dir

NAME = "aks"
REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "tripgen"
PROFILE = "prod"  # AKS runs the prod profile only
SERVICE_IMAGE = "tripgen:dev"  # the local image `nox -s image -- --push` pushes
DEPLOY_TIMEOUT_S = 900


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    detail: str


def read_gate(directory: Path, profile: str = PROFILE) -> GateVerdict:
    """The latest SLA gate of `profile` (`<run dir>/gate/<profile>.json`, key `passed`)."""
    path = directory / "gate" / f"{profile}.json"
    try:
        gate: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return GateVerdict(
            False, f"no SLA gate at {path}: run `nox -s sla-check -- --profile {profile}` first"
        )
    except (OSError, json.JSONDecodeError) as exc:
        return GateVerdict(False, f"the SLA gate {path} is unreadable: {exc}")
    when = gate.get("generated_at") or gate.get("created_at") or "unknown time"
    where = gate.get("platform", "unknown platform")
    if gate.get("passed") is True:
        return GateVerdict(True, f"SLA gate {path} passed ({where}, {when})")
    failed = gate.get("failed") or gate.get("failed_objectives") or []
    names = ", ".join(map(str, failed)) if isinstance(failed, list) else str(failed)
    return GateVerdict(
        False, f"SLA gate {path} did not pass ({where}, {when})" + (f": {names}" if names else "")
    )


class AksPlatform:
    name = NAME

    def __init__(
        self,
        directory: Path | None = None,
        *,
        runner: CommandRunner,
        kube_context: str | None = None,
        force: bool = False,
        values_files: list[Path] | None = None,
        set_values: list[str] | None = None,
        console: Console | None = None,
        api_factory: ApiFactory = KubeApi.for_context,
        pushed_record: Path = PUSHED_RECORD,
        poll_s: float = 5.0,
    ) -> None:
        self.run_dir = run_dir(directory)
        self.runner = runner
        self.kube_context = kube_context
        self.force = force
        self.values_files = list(values_files or [])
        self.set_values = list(set_values or [])
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.api_factory = api_factory
        self.pushed_record = pushed_record
        self.poll_s = poll_s

    # ------------------------------------------------------------------ values

    def values_args(self) -> list[str]:
        """`--values`/`--set` arguments: prod, pushed images by digest, the user's files, sets."""
        for f in self.values_files:
            if not f.is_file():
                raise PlatformError(f"--values {f}: no such file")
        files = [CHART_DIR / "values-prod.yaml"]
        if pushed := self._pushed_images_values():
            files.append(pushed)
        files += self.values_files
        args = [a for f in files for a in ("--values", str(f))]
        return args + [a for s in self.set_values for a in ("--set", s)]

    def _pushed_images_values(self) -> Path | None:
        pushed = load_record(self.pushed_record).get(SERVICE_IMAGE)
        if pushed is None:
            return None
        path = self.run_dir / "aks" / "pushed-image-values.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {"image": {"registry": pushed.registry, "repository": pushed.repository,
                            "digest": pushed.digest}}  # fmt: skip
        path.write_text(
            f"# from {self.pushed_record} (`nox -s image -- --push`)\n"
            + yaml.safe_dump(values, sort_keys=False),
            encoding="utf-8",
        )
        return path

    # ------------------------------------------------------------------ deploy

    def up(self, profile: str) -> None:
        """The AKS cluster is provisioned outside this harness; `up` checks it is reachable."""
        self._check_profile(profile)
        check_prerequisites(self.runner, ("helm",))
        self._kube().api.list("/api/v1/nodes")

    def render(self) -> Path:
        """`helm template` with the layered values into `<run dir>/aks/rendered.yaml`; the chart's
        checks (missing operator values …) fail here, before any cluster is contacted."""
        check_prerequisites(self.runner, ("helm",))
        self._require_context_name()
        rendered = self.runner.run(
            ["helm", "template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE,
             *self.values_args()],
            check=False, timeout=300,
        )  # fmt: skip
        if not rendered.ok:
            raise PlatformError(f"the prod values do not render:\n{rendered.stderr.strip()}")
        out = self.run_dir / "aks" / "rendered.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered.stdout, encoding="utf-8")
        return out

    def dry_run(self) -> Path:
        out = self.render()
        verdict = read_gate(self.run_dir)
        self.console.print(("gate: " if verdict.passed else "[yellow]gate:[/] ") + verdict.detail)
        docs = _documents(out)
        kinds = Counter(str(d.get("kind", "?")) for d in docs)
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        self.console.print(
            f"dry run: rendered {len(docs)} manifests ({summary}) to {out}; "
            f"nothing was sent to context {self.kube_context}"
        )
        return out

    def preflight(self, docs: list[dict[str, Any]]) -> list[aks_preflight.Check]:
        kube = self._kube()
        try:
            results = aks_preflight.checks(kube.api, docs)
            if argo_rollouts.holds_rollouts(docs):  # rollouts.enabled: Rollout objects
                lacking = argo_rollouts.missing(kube.api)
                results.append(aks_preflight.Check(
                    "Argo Rollouts (CRDs + controller)", not lacking,
                    "; ".join(lacking) + f" — install {argo_rollouts.MANIFEST}" if lacking
                    else "present",
                ))  # fmt: skip
        except KubeApiError as exc:
            raise PlatformError(f"preflight against {self.kube_context} failed: {exc}") from exc
        if not all(c.ok for c in results):
            raise PlatformError(
                f"refusing to deploy to {self.kube_context}: the cluster lacks what the release "
                f"needs:\n{aks_preflight.report(results)}"
            )
        self.console.print(f"preflight: {len(results)} checks passed on {self.kube_context}")
        return results

    def deploy(self, profile: str = PROFILE) -> Endpoints:
        self._check_profile(profile)
        check_prerequisites(self.runner, ("helm",))
        context = self._require_context_name()
        self._check_gate()
        docs = _documents(self.render())
        self.preflight(docs)
        kube = self._kube()
        self.console.print(f"helm upgrade --install --atomic {RELEASE} → context {context} …")
        try:
            kube.helm(
                "upgrade", "--install", RELEASE, str(CHART_DIR),
                "--namespace", NAMESPACE, "--create-namespace", *self.values_args(),
                "--atomic", "--wait", "--wait-for-jobs", f"--timeout={DEPLOY_TIMEOUT_S}s",
                timeout=DEPLOY_TIMEOUT_S + 120,
            )  # fmt: skip
            if argo_rollouts.holds_rollouts(docs):
                # helm's --wait knows no Rollout: wait for the controller's verdict instead.
                argo_rollouts.wait_release(
                    kube.api, NAMESPACE, docs, timeout_s=DEPLOY_TIMEOUT_S, poll_s=kube.poll_s
                )
            else:
                kube.wait_release(timeout_s=DEPLOY_TIMEOUT_S)
        except argo_rollouts.RolloutAborted as exc:
            raise PlatformError(
                f"the new version failed its analysis on AKS: {exc}. The release is at the new "
                "revision with every request on the previous version; fix forward, or "
                f"`helm rollback {RELEASE}`"
            ) from exc
        except WaitTimeout as exc:
            raise PlatformError(f"deployed, but {exc}\n{kube.failure_summary()}") from exc
        except CommandFailed as exc:
            # --atomic has rolled the release back; show why the new pods failed.
            raise PlatformError(
                f"deploy to AKS failed and was rolled back: {exc}\n{kube.failure_summary()}"
            ) from exc
        except PlatformError as exc:
            raise PlatformError(f"deployed, but {exc}\n{kube.failure_summary()}") from exc
        record = self.run_dir / "aks" / "last-deploy.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(
            json.dumps({"context": context, "release": RELEASE, "namespace": NAMESPACE,
                        "forced": self.force, "values": self.values_args(), "at": time.time()},
                       indent=2)
        )  # fmt: skip
        self.console.print(f"[green]deployed[/] prod to AKS (context {context})")
        return self.endpoints()

    # ------------------------------------------------------------------ queries

    def endpoints(self) -> Endpoints:
        kube = self._kube()
        raw = kube.api.get(f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/{RELEASE}")
        lb = (raw or {}).get("status", {}).get("loadBalancer", {}).get("ingress") or [{}]
        address = lb[0].get("hostname") or lb[0].get("ip")
        if not address:
            raise NotDeployed(f"ingress {RELEASE} in {self.kube_context} has no address yet")
        base_url = f"https://{address}"
        return Endpoints(base_url=base_url, services={s: base_url for s in SERVICES})

    def status(self) -> DeploymentStatus:
        return DeploymentStatus(NAME, PROFILE, "", self._kube().replica_statuses())

    # ------------------------------------------------------------------ not offered on AKS

    def kill_replica(self, service: str, replica: str | None = None) -> KilledReplica:
        raise self._no_chaos()

    def zone_outage(self, zone: str) -> list[str]:
        raise self._no_chaos()

    def restore(self, zone: str) -> list[str]:
        raise self._no_chaos()

    def stop_dependency(self, name: str) -> None:
        raise self._no_chaos()

    def start_dependency(self, name: str) -> None:
        raise self._no_chaos()

    def down(self) -> None:
        raise Unsupported(
            "this harness does not tear down production; "
            f"`helm uninstall {RELEASE} --namespace {NAMESPACE} --kube-context …` if you mean it"
        )

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _no_chaos() -> Unsupported:
        return Unsupported("chaos experiments run on local or kind, never against AKS")

    @staticmethod
    def _check_profile(profile: str) -> None:
        if profile != PROFILE:
            raise PlatformError(f"AKS runs the prod profile only (asked for {profile!r})")

    def _require_context_name(self) -> str:
        if not self.kube_context:
            raise PlatformError("--kube-context NAME is required: AKS is never deployed to "
                                "the kubeconfig's current context by accident")  # fmt: skip
        return self.kube_context

    def _check_gate(self) -> None:
        verdict = read_gate(self.run_dir)
        if verdict.passed:
            self.console.print(verdict.detail)
            return
        if not self.force:
            raise PlatformError(
                f"refusing to deploy to AKS: {verdict.detail}\n"
                "(--force overrides this check; the push is then on you)"
            )
        self.console.print(f"[bold yellow]warning:[/] --force: deploying although {verdict.detail}")

    def _kube(self) -> Kube:
        return Kube(self.runner, context=self._require_context_name(),
                    api_factory=self.api_factory, console=self.console,
                    poll_s=self.poll_s)  # fmt: skip


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]

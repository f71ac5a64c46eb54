"""The `aks` platform: push the prod profile to the real cluster, gated on the SLA report.

    deploy-aks --kube-context NAME [--force] [--dry-run]

`helm upgrade --install --atomic` with values-prod.yaml against that explicit context (never the
kubeconfig's current one). It refuses unless the latest prod SLA gate (`.tripgen/gate/prod.json`,
written by `nox -s sla-check`) says `passed: true`; `--force` overrides with a warning.
`--dry-run` only renders the manifests (`helm template`), contacting no cluster.

Chaos and teardown are not offered against production from this harness. Not executed in this
repository's CI (no AKS cluster); the command sequence is tested with a recording runner.
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

from simulation.platforms.base import (
    DeploymentStatus,
    Endpoints,
    KilledReplica,
    NotDeployed,
    PlatformError,
    Unsupported,
)
from simulation.platforms.kube import NAMESPACE, RELEASE, Kube, check_prerequisites
from simulation.platforms.runner import CommandFailed, CommandRunner
from simulation.profiles import SERVICES
from simulation.state import run_dir

NAME = "aks"
REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "tripgen"
PROFILE = "prod"  # AKS runs the prod profile only
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
        console: Console | None = None,
    ) -> None:
        self.run_dir = run_dir(directory)
        self.runner = runner
        self.kube_context = kube_context
        self.force = force
        self.console = console or Console(stderr=True, soft_wrap=True)

    # ------------------------------------------------------------------ deploy

    def up(self, profile: str) -> None:
        """The AKS cluster is provisioned outside this harness; `up` checks it is reachable."""
        self._check_profile(profile)
        check_prerequisites(self.runner, ("kubectl", "helm"))
        self._check_context()

    def deploy(self, profile: str = PROFILE) -> Endpoints:
        self._check_profile(profile)
        check_prerequisites(self.runner, ("kubectl", "helm"))
        context = self._check_context()
        self._check_gate()
        kube = self._kube()
        self.console.print(f"helm upgrade --install --atomic {RELEASE} → context {context} …")
        try:
            kube.helm(
                "upgrade", "--install", RELEASE, str(CHART_DIR),
                "--namespace", NAMESPACE, "--create-namespace",
                "--values", str(CHART_DIR / "values-prod.yaml"),
                "--atomic", "--wait", "--wait-for-jobs", f"--timeout={DEPLOY_TIMEOUT_S}s",
                timeout=DEPLOY_TIMEOUT_S + 120,
            )  # fmt: skip
        except CommandFailed as exc:
            # --atomic has rolled the release back; show why the new pods failed.
            raise PlatformError(
                f"deploy to AKS failed and was rolled back: {exc}\n{kube.failure_summary()}"
            ) from exc
        record = self.run_dir / "aks" / "last-deploy.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(
            json.dumps({"context": context, "release": RELEASE, "namespace": NAMESPACE,
                        "forced": self.force, "at": time.time()}, indent=2)
        )  # fmt: skip
        self.console.print(f"[green]deployed[/] prod to AKS (context {context})")
        return self.endpoints()

    def render(self) -> Path:
        """--dry-run: `helm template` with values-prod.yaml into `<run dir>/aks/rendered.yaml`."""
        check_prerequisites(self.runner, ("helm",))
        self._require_context_name()
        verdict = read_gate(self.run_dir)
        self.console.print(("gate: " if verdict.passed else "[yellow]gate:[/] ") + verdict.detail)
        rendered = self.runner.run(
            ["helm", "template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE,
             "--values", str(CHART_DIR / "values-prod.yaml")],
            timeout=300,
        ).stdout  # fmt: skip
        out = self.run_dir / "aks" / "rendered.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered, encoding="utf-8")
        kinds = Counter(
            doc.get("kind", "?") for doc in yaml.safe_load_all(rendered) if isinstance(doc, dict)
        )
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        self.console.print(
            f"dry run: rendered {sum(kinds.values())} manifests ({summary}) to {out}; "
            f"nothing was sent to context {self.kube_context}"
        )
        return out

    # ------------------------------------------------------------------ queries

    def endpoints(self) -> Endpoints:
        raw = self._kube().kubectl_json("get", "ingress", RELEASE)
        ingress = (raw.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}])[0]
        address = ingress.get("hostname") or ingress.get("ip")
        if not address:
            raise NotDeployed(f"ingress {RELEASE} in {self.kube_context} has no address yet")
        base_url = f"https://{address}"
        return Endpoints(base_url=base_url, services={s: base_url for s in SERVICES})

    def status(self) -> DeploymentStatus:
        kube = self._kube()
        return DeploymentStatus(NAME, PROFILE, "", kube.replica_statuses())

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

    def _check_context(self) -> str:
        context = self._require_context_name()
        out = self.runner.run(
            ["kubectl", "config", "get-contexts", "--output=name"], timeout=30
        ).stdout.split()
        if context not in out:
            raise PlatformError(
                f"kube context {context!r} is not in your kubeconfig (have: "
                f"{', '.join(out) or 'none'}); `az aks get-credentials` adds it"
            )
        return context

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
        return Kube(self.runner, context=self._require_context_name(), console=self.console)

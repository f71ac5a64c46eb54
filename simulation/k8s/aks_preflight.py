"""Before `deploy-aks` upgrades anything: does the cluster behind the context have what the
rendered release needs? Asked through that context's API, one check per need:

- the context is not a kind cluster (`simulation.k8s.harness_context`);
- metrics-server answers: APIService `v1beta1.metrics.k8s.io` is Available (the HPAs scale on
  CPU and memory from it);
- the Secrets Store CSI driver, when the release mounts Key Vault: CSIDriver
  `secrets-store.csi.k8s.io` and the SecretProviderClass CRD exist;
- KEDA, when the release holds ScaledObjects: the `scaledobjects.keda.sh` CRD exists and KEDA's
  external metrics APIService `v1beta1.external.metrics.k8s.io` is Available;
- the IngressClass the Ingress names exists (AGIC: `azure-application-gateway`);
- nodes: every node has a zone label; the nodes the services' node affinity selects exist, carry
  the taint the pods tolerate, and span the zones the topology spread expects.

A missing or unavailable component fails with what to install; the API's own errors are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulation.k8s.harness_context import NotHarnessCluster, check_not_harness_kind
from simulation.k8s.kubeapi import CORE, KubeApi, KubeApiError
from simulation.k8s.topology import ZONE_LABEL, ZONES

Doc = dict[str, Any]
METRICS_API = "v1beta1.metrics.k8s.io"
EXTERNAL_METRICS_API = "v1beta1.external.metrics.k8s.io"
CSI_DRIVER = "secrets-store.csi.k8s.io"
SPC_CRD = "secretproviderclasses.secrets-store.csi.x-k8s.io"
KEDA_CRD = "scaledobjects.keda.sh"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _kinds(docs: list[Doc]) -> set[str]:
    return {str(d.get("kind")) for d in docs}


def _get(api: KubeApi, path: str) -> Doc | None:
    try:
        return api.get(path)
    except KubeApiError as exc:
        if exc.status == 404:  # the API group itself is not served
            return None
        raise


def _apiservice(api: KubeApi, name: str, install: str) -> Check:
    svc = _get(api, f"/apis/apiregistration.k8s.io/v1/apiservices/{name}")
    if svc is None:
        return Check(f"APIService {name}", False, f"absent: {install}")
    conditions = {c.get("type"): c for c in svc.get("status", {}).get("conditions", [])}
    available = conditions.get("Available", {})
    if available.get("status") != "True":
        why = available.get("message") or available.get("reason") or "no Available condition"
        return Check(f"APIService {name}", False, f"not available: {why}")
    return Check(f"APIService {name}", True, "Available")


def _exists(api: KubeApi, name: str, path: str, install: str) -> Check:
    found = _get(api, path) is not None
    return Check(name, found, "present" if found else f"absent: {install}")


def _pod_scheduling(docs: list[Doc]) -> tuple[list[Doc], list[Doc]]:
    """(node selector terms, tolerations) of the first service Deployment."""
    for d in docs:
        if d.get("kind") == "Deployment":
            spec = d["spec"]["template"]["spec"]
            terms = (
                spec.get("affinity", {})
                .get("nodeAffinity", {})
                .get("requiredDuringSchedulingIgnoredDuringExecution", {})
                .get("nodeSelectorTerms", [])
            )
            return terms, spec.get("tolerations", [])
    return [], []


def _selected(labels: dict[str, str], terms: list[Doc]) -> bool:
    return not terms or any(
        all(labels.get(e["key"]) in e.get("values", []) for e in t.get("matchExpressions", []))
        for t in terms
    )


def _tolerated(taint: Doc, tolerations: list[Doc]) -> bool:
    return any(
        t.get("key") == taint.get("key")
        and t.get("effect") in (None, taint.get("effect"))
        and (t.get("operator") == "Exists" or t.get("value") == taint.get("value"))
        for t in tolerations
    )


def node_checks(nodes: list[Doc], docs: list[Doc]) -> list[Check]:
    unzoned = [
        n["metadata"]["name"] for n in nodes if ZONE_LABEL not in n["metadata"].get("labels", {})
    ]
    checks = [
        Check(
            f"nodes carry {ZONE_LABEL}",
            bool(nodes) and not unzoned,
            f"{len(nodes)} nodes" if not unzoned else f"missing on {', '.join(unzoned[:5])}",
        )
    ]
    terms, tolerations = _pod_scheduling(docs)
    app = [n for n in nodes if _selected(n["metadata"].get("labels", {}), terms)]
    tainted = [
        n for n in app
        if any(_tolerated(t, tolerations) for t in n.get("spec", {}).get("taints", []))
    ]  # fmt: skip
    wanted = ", ".join(f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in tolerations)
    zones = sorted({n["metadata"]["labels"].get(ZONE_LABEL, "") for n in tainted})
    checks.append(
        Check(
            "application nodes: affinity label and the tolerated taint",
            bool(tainted) if tolerations else bool(app),
            f"{len(tainted)} of {len(app)} selected nodes carry {wanted or 'no taint'}"
            if app
            else "no node carries the labels the services' node affinity requires",
        )
    )
    if tolerations:
        missing = [z for z in ZONES if z not in zones]
        checks.append(
            Check(
                "application nodes span the zones",
                not missing,
                f"zones {', '.join(zones) or 'none'}"
                + (f"; none in {', '.join(missing)}" if missing else ""),
            )
        )
    return checks


def checks(api: KubeApi, docs: list[Doc]) -> list[Check]:
    """Every check for installing the rendered `docs` on `api`'s cluster."""
    try:
        check_not_harness_kind(api)
        results = [Check("context is not a kind cluster", True, api.server)]
    except NotHarnessCluster as exc:
        return [Check("context is not a kind cluster", False, str(exc))]
    kinds = _kinds(docs)
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    results.append(_apiservice(api, METRICS_API, "enable metrics-server (AKS installs it)"))
    if "SecretProviderClass" in kinds:
        how = "az aks enable-addons --addons azure-keyvault-secrets-provider"
        driver = f"/apis/storage.k8s.io/v1/csidrivers/{CSI_DRIVER}"
        results.append(_exists(api, f"CSIDriver {CSI_DRIVER}", driver, how))
        results.append(_exists(api, f"CRD {SPC_CRD}", f"{crds}/{SPC_CRD}", how))
    if "ScaledObject" in kinds:
        how = "enable KEDA: az aks update --enable-keda"
        results.append(_exists(api, f"CRD {KEDA_CRD}", f"{crds}/{KEDA_CRD}", how))
        results.append(_apiservice(api, EXTERNAL_METRICS_API, how))
    for ing in (d for d in docs if d.get("kind") == "Ingress"):
        cls = ing["spec"].get("ingressClassName", "")
        how = "enable the ingress controller (AGIC: az aks enable-addons --addons ingress-appgw)"
        path = f"/apis/networking.k8s.io/v1/ingressclasses/{cls}"
        results.append(_exists(api, f"IngressClass {cls}", path, how))
    results += node_checks(api.list(f"{CORE}/nodes"), docs)
    return results


def report(results: list[Check]) -> str:
    return "\n".join(f"  - {c.name}: {c.detail}" for c in results if not c.ok)

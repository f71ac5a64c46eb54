"""design-check's network and custom-metric findings, computed from the rendered NetworkPolicies
(`simulation.k8s.netpol`) and ScaledObjects: the matrix of docs/contracts.md, the managed stores,
the Redis TLS port, App Gateway as a source, the service-to-service calls, and whether KEDA's
Prometheus may scrape the pods its queries read."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from simulation.k8s import netpol
from simulation.k8s import netpol_matrix as matrix
from simulation.k8s.design_model import Doc, Finding, Workload, find

SOURCE = "SPEC.md › Network and security; docs/contracts.md › Network policy matrix"


def _prometheus_namespaces(docs: list[Doc]) -> dict[str, str]:
    """ScaledObject name → namespace of the Prometheus its trigger queries (`<svc>.<ns>.svc`)."""
    found = {}
    for so in find(docs, "ScaledObject"):
        for trigger in so["spec"].get("triggers", []):
            if trigger.get("type") == "prometheus":
                host = urlsplit(trigger["metadata"]["serverAddress"]).hostname or ""
                parts = host.split(".")
                if len(parts) >= 2:
                    found[so["spec"]["scaleTargetRef"]["name"]] = parts[1]
    return found


def check_network(docs: list[Doc], values: dict[str, Any]) -> list[Finding]:
    if not values["networkPolicy"]["enabled"]:
        return [Finding("network/policies", "warn", "no NetworkPolicy is rendered", "", SOURCE)]
    facts = matrix.Facts.of(values)
    scrapers = _prometheus_namespaces(docs)
    world = netpol.universe(docs, [*facts.namespaces, *scrapers.values()], facts.cidrs)
    allowed = netpol.flows(docs, world)
    intended = matrix.expected(facts, world)
    extra, missing = sorted(allowed - intended, key=str), sorted(intended - allowed, key=str)
    out = [
        Finding(
            "network/matrix",
            "risk" if extra or missing else "ok",
            f"NetworkPolicies allow {len(allowed)} flows: "
            + ("exactly the intended matrix" if not (extra or missing) else
               f"{len(extra)} more and {len(missing)} fewer than intended"),
            "; ".join([*(f"extra {f}" for f in extra[:5]), *(f"missing {f}" for f in missing[:5])])
            or "every flow the matrix lists, nothing else",
            SOURCE,
        )
    ]  # fmt: skip
    out += _store_findings(values, allowed)
    out += _ingress_findings(docs, values, allowed)
    for target, namespace in sorted(scrapers.items()):
        service = target.rsplit("-", 1)[-1]
        ok = (f"namespace:{namespace}", service, "TCP", 8080) in allowed
        out.append(
            Finding(
                f"network/prometheus-scrape-{service}",
                "ok" if ok else "risk",
                f"Prometheus in {namespace} {'may' if ok else 'may not'} scrape {service}'s "
                "/metrics",
                "KEDA's Prometheus trigger reads series the scrape must collect"
                + ("" if ok else f": add {namespace} to networkPolicy.ingress.metricsNamespaces"),
                "ci/prod-keda-values.yaml; networkPolicy.ingress.metricsNamespaces",
            )
        )
    return out


def _store_findings(values: dict[str, Any], allowed: set[netpol.Flow]) -> list[Finding]:
    out = []
    for store, port in (("postgresql", 5432), ("redis", 6379)):
        cidrs = (
            matrix.Facts.of(values).postgresql_cidrs
            if store == "postgresql"
            else (matrix.Facts.of(values).redis_cidrs)
        )
        targets = [netpol.net(c).name for c in cidrs] or [store]
        reached = any((s, t, "TCP", port) in allowed for s in matrix.SERVICES for t in targets)
        where = f"its subnets {', '.join(cidrs)}" if cidrs else f"the in-cluster `app: {store}` pod"
        out.append(
            Finding(
                f"network/egress-{store}",
                "ok" if reached else "risk",
                f"services {'reach' if reached else 'cannot reach'} {store} on {port} ({where})",
                "managed stores have no pods: their private-endpoint subnets must be in "
                f"networkPolicy.egress.{store}Cidrs",
                SOURCE,
            )
        )
    if not values["redis"]["enabled"] and values["externalRedis"]["tls"]:
        port = int(values["externalRedis"]["port"])
        cidrs = matrix.Facts.of(values).redis_cidrs
        ok = any(("user", netpol.net(c).name, "TCP", port) in allowed for c in cidrs)
        out.append(
            Finding(
                "network/redis-tls-port",
                "info" if ok else "risk",
                f"services use rediss://…:{port}; SPEC.md opens 6379 only",
                f"Azure Cache for Redis serves TLS on {port}; the policy "
                + ("opens it" if ok else f"does not: add {port} to networkPolicy.egress.redisPorts")
                + "; the NSG row (cache 6379) needs the same change",
                "SPEC.md › Network and security (NetworkPolicy, NSG) vs TLS in transit",
            )
        )
    return out


def _ingress_findings(
    docs: list[Doc], values: dict[str, Any], allowed: set[netpol.Flow]
) -> list[Finding]:
    out = []
    agic = any(i["spec"].get("ingressClassName") == "azure-application-gateway"
               for i in find(docs, "Ingress"))  # fmt: skip
    if agic:
        cidrs = values["networkPolicy"]["ingress"]["cidrs"]
        ok = bool(cidrs) and all(
            (netpol.net(c).name, s, "TCP", 8080) in allowed for c in cidrs for s in matrix.SERVICES
        )
        out.append(
            Finding(
                "network/agic-source",
                "ok" if ok else "risk",
                "App Gateway's subnet " + ("reaches" if ok else "cannot reach") + " the services",
                "AGIC programs App Gateway to send straight to pod IPs from its subnet, not from "
                "the ingress controller's namespace: networkPolicy.ingress.cidrs",
                "SPEC.md › Network and security (prod NetworkPolicy, App Gateway ingress)",
            )
        )
    urls = sorted(
        k for cm in find(docs, "ConfigMap") for k in (cm.get("data") or {})
        if re.fullmatch(r"TRIPGEN_[A-Z]+_URL", k)
    )  # fmt: skip
    calls = [(c, s) for c, called in matrix.CALLS.items() for s in called]
    blocked = [f"{c} → {s}" for c, s in calls if (c, s, "TCP", 8080) not in allowed]
    out.append(
        Finding(
            "network/service-to-service",
            "risk" if blocked else "info",
            "SPEC.md's policy alone blocks service-to-service calls",
            f"services call each other over {', '.join(urls)}; SPEC.md admits only the ingress "
            "namespace on 8080 — the chart adds exactly the calls of docs/contracts.md ("
            + ", ".join(f"{c} → {s}" for c, s in calls)
            + ")"
            + (f"; blocked: {', '.join(blocked)}" if blocked else ""),
            "SPEC.md › Network and security; services.<name>.calls",
        )
    )
    return out


def check_custom_metrics(ws: list[Workload], keda_ws: list[Workload] | None) -> list[Finding]:
    declared = [w for w in ws if w.custom_metric]
    unserved = [w for w in declared if w.metric_provider == "none"]
    out = [
        Finding(
            "custom-metrics/prod",
            "risk" if unserved else "ok",
            f"{len(unserved)} of {len(declared)} SPEC.md custom HPA metrics have no provider",
            "; ".join(f"{w.name}: {w.custom_metric} → {w.metric_provider}" for w in declared)
            + (
                " — the HPAs scale on CPU/memory only; a metrics adapter (KEDA, Prometheus "
                "adapter) is needed and no document provisions one"
                if unserved
                else ""
            ),
            "SPEC.md › Autoscaling and disruption (custom metric); conflict 5",
        )
    ]
    if keda_ws is not None:
        served = {w.name: w.metric_provider for w in keda_ws if w.custom_metric}
        still = [n for n, p in served.items() if p == "none"]
        out.append(
            Finding(
                "custom-metrics/keda",
                "info",
                f"with keda.enabled: {len(served) - len(still)} of {len(served)} served",
                "; ".join(f"{n} → {p}" for n, p in sorted(served.items()))
                + " (queue length needs only KEDA; rps, active connections and search requests "
                "need a Prometheus that scrapes /metrics: the queries select the pods by the "
                "`namespace` and `pod` target labels, the series the services expose carry no "
                "service label — tests/simulation/k8s/test_keda_queries.py checks each selector "
                "against the services' real /metrics)",
                "ci/prod-keda-values.yaml",
            )
        )
    return out

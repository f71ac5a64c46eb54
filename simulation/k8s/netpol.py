"""Who may reach whom under rendered NetworkPolicies, computed as Kubernetes enforces them.

The universe is the release's pods (one per workload: the services, the data-init Jobs, the
in-cluster stores, each with its container ports), a pod in each namespace a policy or the
intended matrix names plus one in a namespace nobody names, and the networks: every CIDR in play
plus `internet` (an address inside none of them). A flow `(source, destination, protocol, port)`
is allowed when the source may send it — no policy with `Egress` selects the source, or one of
its egress rules admits the destination and port — and the destination may receive it — no
policy with `Ingress` selects it (networks are never selected), or one of its ingress rules admits
the source and port. Semantics per the NetworkPolicy reference: a rule without `to`/`from` admits
every peer, without `ports` every port; `podSelector` alone means pods of the policy's namespace,
`namespaceSelector` pods of matching namespaces, both together their intersection; `ipBlock`
admits the networks inside its CIDR and outside its `except`. `*` stands for every port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
ANY_PORT = "*"
INTERNET = "internet"
INTERNET_ADDRESS = "203.0.113.10/32"  # documentation range: inside none of the chart's CIDRs
OTHER_NAMESPACE = "(other)"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
ContainerPort = tuple[str, int, str]  # (protocol, number, name or "")
Flow = tuple[str, str, str, int | str]  # (source, destination, protocol, port or "*")


@dataclass(frozen=True)
class Pod:
    name: str  # the workload's component (user, postgresql …) or `namespace:<ns>`
    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: tuple[ContainerPort, ...] = ()
    release: bool = True  # False: a pod of another namespace, outside the chart's say

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class Net:
    name: str  # `cidr:<cidr>` or `internet`
    cidr: str


Endpoint = Pod | Net


@dataclass
class Universe:
    pods: list[Pod] = field(default_factory=list)
    nets: list[Net] = field(default_factory=list)

    @property
    def endpoints(self) -> list[Endpoint]:
        return [*self.pods, *self.nets]


def outsider(namespace: str) -> Pod:
    """A pod in `namespace` that is not the release's (the ingress controller, Prometheus …)."""
    return Pod(f"namespace:{namespace}", namespace, (), release=False)


def net(cidr: str) -> Net:
    return Net(f"cidr:{cidr}", cidr)


def release_pods(docs: list[Doc]) -> list[Pod]:
    """One pod per Deployment (or Argo Rollout in its place), StatefulSet and (data-init) Job,
    named by its component."""
    pods: dict[str, Pod] = {}
    for d in docs:
        if d.get("kind") not in ("Deployment", "Rollout", "StatefulSet", "Job"):
            continue
        template = d["spec"]["template"]
        labels = template["metadata"].get("labels", {})
        name = labels.get("app.kubernetes.io/component", d["metadata"]["name"])
        ports = tuple(
            (str(p.get("protocol", "TCP")), int(p["containerPort"]), str(p.get("name", "")))
            for c in template["spec"].get("containers", [])
            for p in c.get("ports", [])
        )
        namespace = d["metadata"].get("namespace", "default")
        pods[name] = Pod(name, namespace, tuple(sorted(labels.items())), ports)
    return list(pods.values())


def universe(docs: list[Doc], namespaces: Iterable[str], cidrs: Iterable[str]) -> Universe:
    """The release's pods, outsiders in `namespaces` (and one elsewhere), the `cidrs` and the
    internet."""
    spaces = [*sorted({*namespaces, *_policy_namespaces(docs)} - {""}), OTHER_NAMESPACE]
    nets = [net(c) for c in sorted({*cidrs, *_policy_cidrs(docs)})]
    pods = [*release_pods(docs), *(outsider(ns) for ns in spaces)]
    return Universe(pods, [*nets, Net(INTERNET, INTERNET_ADDRESS)])


def _policies(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d.get("kind") == "NetworkPolicy"]


def _peers(policy: Doc) -> list[Doc]:
    spec = policy["spec"]
    rules = spec.get("ingress", []) + spec.get("egress", [])
    return [p for r in rules for p in r.get("from", []) + r.get("to", [])]


def _policy_namespaces(docs: list[Doc]) -> set[str]:
    found = set()
    for policy in _policies(docs):
        for peer in _peers(policy):
            if ns := peer.get("namespaceSelector", {}).get("matchLabels", {}).get(NAMESPACE_LABEL):
                found.add(str(ns))
    return found


def _policy_cidrs(docs: list[Doc]) -> set[str]:
    return {
        str(peer["ipBlock"]["cidr"])
        for policy in _policies(docs)
        for peer in _peers(policy)
        if "ipBlock" in peer
    }


# --------------------------------------------------------------------------- matching


def selector_matches(selector: Doc, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions); `{}` selects everything."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _selects(policy: Doc, pod: Pod) -> bool:
    return policy["metadata"].get("namespace", "default") == pod.namespace and selector_matches(
        policy["spec"].get("podSelector", {}), pod.label_map
    )


def _net_in(n: Net, block: Doc) -> bool:
    inside = ipaddress.ip_network(n.cidr)
    outer = ipaddress.ip_network(block["cidr"])
    if inside.version != outer.version or not inside.subnet_of(outer):  # type: ignore[arg-type]
        return False
    return not any(
        inside.subnet_of(ipaddress.ip_network(ex))  # type: ignore[arg-type]
        for ex in block.get("except", [])
    )


def peer_matches(peer: Doc, policy_namespace: str, endpoint: Endpoint) -> bool:
    if "ipBlock" in peer:
        return isinstance(endpoint, Net) and _net_in(endpoint, peer["ipBlock"])
    if isinstance(endpoint, Net):
        return False
    if "namespaceSelector" in peer:
        ns_labels = {NAMESPACE_LABEL: endpoint.namespace}
        if not selector_matches(peer["namespaceSelector"], ns_labels):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return selector_matches(peer.get("podSelector", {}), endpoint.label_map)


def _rule_admits(rule: Doc, key: str, ns: str, peer: Endpoint) -> bool:
    peers = rule.get(key)
    # "If this field is empty or missing, this rule matches all" (NetworkPolicy reference)
    return not peers or any(peer_matches(p, ns, peer) for p in peers)


def _port_admitted(rule: Doc, port: ContainerPort) -> bool:
    """Whether `rule` admits the container port (by number, range or name)."""
    if not rule.get("ports"):
        return True
    protocol, number, name = port
    for p in rule["ports"]:
        if p.get("protocol", "TCP") != protocol:
            continue
        wanted = p.get("port")
        if wanted is None or wanted == number or (name and wanted == name):
            return True
        if isinstance(wanted, int) and p.get("endPort") and wanted <= number <= int(p["endPort"]):
            return True
    return False


# --------------------------------------------------------------------------- flows


def _selecting(policies: list[Doc], kind: str, pod: Pod) -> list[Doc]:
    return [p for p in policies if kind in p["spec"].get("policyTypes", []) and _selects(p, pod)]


def _admits(policies: list[Doc], src: Endpoint, dst: Pod, port: ContainerPort) -> bool:
    """Both ends agree: `src` may send to `dst` on `port` and `dst` may receive it."""
    if isinstance(src, Pod):
        egress = _selecting(policies, "Egress", src)
        if egress and not any(
            _rule_admits(rule, "to", policy["metadata"].get("namespace", "default"), dst)
            and _port_admitted(rule, port)
            for policy in egress
            for rule in policy["spec"].get("egress", [])
        ):
            return False
    ingress = _selecting(policies, "Ingress", dst)
    return not ingress or any(
        _rule_admits(rule, "from", policy["metadata"].get("namespace", "default"), src)
        and _port_admitted(rule, port)
        for policy in ingress
        for rule in policy["spec"].get("ingress", [])
    )


def _ports_to_net(policies: list[Doc], src: Pod, dst: Net) -> set[tuple[str, int | str]]:
    """(protocol, port) pairs `src` may send to network `dst`; `("*", "*")` for every port."""
    egress = _selecting(policies, "Egress", src)
    if not egress:
        return {("*", ANY_PORT)}
    ports: set[tuple[str, int | str]] = set()
    for policy in egress:
        ns = policy["metadata"].get("namespace", "default")
        for rule in policy["spec"].get("egress", []):
            if not _rule_admits(rule, "to", ns, dst):
                continue
            if not rule.get("ports"):
                return {("*", ANY_PORT)}
            ports |= {(str(p.get("protocol", "TCP")), p["port"]) for p in rule["ports"]}
    return ports


def flows(docs: list[Doc], world: Universe) -> set[Flow]:
    """Every flow the rendered policies allow within `world`: to a pod on each of its container
    ports; to a network on the ports the source's egress rules name (`*`: every port)."""
    policies = _policies(docs)
    allowed: set[Flow] = set()
    for src in world.endpoints:
        for dst in world.pods:
            if dst != src and dst.release:
                allowed |= {
                    (src.name, dst.name, port[0], port[1])
                    for port in dst.ports
                    if _admits(policies, src, dst, port)
                }
        if isinstance(src, Pod) and src.release:
            for dst_net in world.nets:
                allowed |= {
                    (src.name, dst_net.name, proto, number)
                    for proto, number in _ports_to_net(policies, src, dst_net)
                }
    return allowed

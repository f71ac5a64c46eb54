"""The rendered NetworkPolicies of every profile allow exactly the intended matrix, which is
written once (simulation/k8s/netpol_matrix.py) and published in docs/contracts.md."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import yaml

from simulation.k8s import chart, netpol
from simulation.k8s import netpol_matrix as matrix
from tests.chart.chart_support import Doc

PROFILES = [p for p in chart.all_profiles() if chart.merged_values(p)["networkPolicy"]["enabled"]]


def computed(profile: str, docs: list[Doc]) -> tuple[set[netpol.Flow], set[netpol.Flow]]:
    facts = matrix.Facts.of(chart.merged_values(profile))
    world = matrix.profile_universe(docs, facts)
    return netpol.flows(docs, world), matrix.expected(facts, world)


@pytest.mark.parametrize("profile", PROFILES)
def test_rendered_policies_allow_exactly_the_matrix(
    profile: str, render: Callable[[str], list[Doc]]
) -> None:
    allowed, intended = computed(profile, render(profile))
    assert not allowed - intended, f"{profile} allows more than the matrix"
    assert not intended - allowed, f"{profile} blocks what the matrix allows"


def test_prod_reaches_the_managed_stores_and_app_gateway(
    render: Callable[[str], list[Doc]],
) -> None:
    allowed, _ = computed("prod", render("prod"))
    assert ("trip", "cidr:10.2.0.0/24", "TCP", 5432) in allowed  # managed PostgreSQL
    assert ("ai", "cidr:10.2.1.0/24", "TCP", 6380) in allowed  # managed Redis, TLS
    assert ("cidr:10.1.0.0/24", "user", "TCP", 8080) in allowed  # App Gateway → service
    assert ("internet", "user", "TCP", 8080) not in allowed
    assert ("user", "location", "TCP", 8080) not in allowed  # user calls nobody
    assert ("trip", "location", "TCP", 8080) in allowed
    assert ("user", "internet", "TCP", 5671) not in allowed  # only queue users reach Service Bus
    assert ("ai", "internet", "TCP", 5671) in allowed


def test_an_extra_policy_shows_as_a_difference(render: Callable[[str], list[Doc]]) -> None:
    # what the chart rendered before: every tier=application pod may call every other on 8080
    docs = copy.deepcopy(render("prod+kind"))
    user = next(
        d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "tripgen-user"
    )
    user["spec"]["ingress"].append(
        {"from": [{"podSelector": {"matchLabels": {"tier": "application"}}}],
         "ports": [{"protocol": "TCP", "port": 8080}]}
    )  # fmt: skip
    for policy in (
        d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] != "tripgen-user"
    ):
        policy["spec"].get("egress", []).append(
            {"to": [{"podSelector": {"matchLabels": {"tier": "application"}}}],
             "ports": [{"protocol": "TCP", "port": 8080}]}
        )  # fmt: skip
    allowed, intended = computed("prod+kind", docs)
    assert ("location", "user", "TCP", 8080) in allowed - intended
    assert ("datainit", "user", "TCP", 8080) in allowed - intended


def test_the_matrix_in_docs_is_the_generated_one() -> None:
    # regenerate with `python -m simulation.k8s.netpol_matrix --write`
    text = matrix.CONTRACTS.read_text(encoding="utf-8")
    assert matrix.BEGIN in text
    start, end = text.index(matrix.BEGIN), text.index(matrix.END) + len(matrix.END)
    assert text[start:end] == matrix.section()


def test_the_charts_calls_and_queue_users_are_the_contracts() -> None:
    values = yaml.safe_load((chart.CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    services = values["services"]
    assert {s: tuple(v["calls"]) for s, v in services.items() if v["calls"]} == matrix.CALLS
    assert tuple(s for s, v in services.items() if v["queue"]) == matrix.QUEUE_USERS


# ---------------------------------------------------------------- the analysis, on its own


def policy(spec: Doc, namespace: str = "app") -> Doc:
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": spec,
    }


def pod(name: str, labels: dict[str, str], port: int, namespace: str = "app") -> netpol.Pod:
    return netpol.Pod(name, namespace, tuple(labels.items()), (("TCP", port, "http"),))


def world(*pods: netpol.Pod, cidrs: tuple[str, ...] = ()) -> netpol.Universe:
    return netpol.Universe(
        list(pods), [netpol.net(c) for c in cidrs] + [netpol.Net("internet", "203.0.113.10/32")]
    )


A = pod("a", {"role": "a"}, 8080)
B = pod("b", {"role": "b"}, 8080)
C = pod("c", {"role": "c"}, 9000, namespace="other")


def test_no_policy_allows_everything() -> None:
    flows = netpol.flows([], world(A, B))
    assert ("a", "b", "TCP", 8080) in flows
    assert ("a", "internet", "*", "*") in flows


def test_an_empty_to_list_means_every_destination() -> None:
    docs = [policy({"podSelector": {"matchLabels": {"role": "a"}}, "policyTypes": ["Egress"],
                    "egress": [{"to": [], "ports": [{"port": 8080}]}]})]  # fmt: skip
    flows = netpol.flows(docs, world(A, B))
    assert ("a", "b", "TCP", 8080) in flows


def test_pod_and_namespace_selectors_together_intersect() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}},
            "podSelector": {"matchLabels": {"role": "b"}}}  # fmt: skip
    docs = [policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [peer]}]})]
    b_elsewhere = pod("b2", {"role": "b"}, 1, namespace="other")
    flows = netpol.flows(docs, world(A, B, C, b_elsewhere))
    assert ("b2", "a", "TCP", 8080) in flows
    assert ("b", "a", "TCP", 8080) not in flows  # right pod, wrong namespace
    assert ("c", "a", "TCP", 8080) not in flows  # right namespace, wrong pod


def test_ip_block_except_and_named_ports() -> None:
    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}
    docs = [policy({"podSelector": {"matchLabels": {"role": "a"}}, "policyTypes": ["Ingress"],
                    "ingress": [{"from": [block], "ports": [{"port": "http"}]}]})]  # fmt: skip
    flows = netpol.flows(docs, world(A, cidrs=("10.1.0.0/24", "10.9.1.0/24")))
    assert ("cidr:10.1.0.0/24", "a", "TCP", 8080) in flows
    assert ("cidr:10.9.1.0/24", "a", "TCP", 8080) not in flows
    assert ("internet", "a", "TCP", 8080) not in flows

"""The cluster autoscaler's rules (cluster-autoscaler FAQ: "How does scale-up work?", "How does
scale-down work?"; AKS autoscaler-profile defaults) on the prod application pool."""

from __future__ import annotations

from simulation.capacity.autoscaler import (
    CaSettings,
    DrainMemo,
    plan_scale_up,
    scale_down,
    zone_groups,
)
from simulation.capacity.des.state import Node, Pod, bind, choose_node, unbind
from simulation.k8s.topology import topology

POOL = topology("prod").application_pool
ALLOC = POOL.node_allocatable()


def node(zone: str = "koreacentral-1", state: str = "ready") -> Node:
    n = Node(zone, ALLOC.cpu_m, ALLOC.memory_mib, ALLOC.pods, 0.0)
    n.state = state  # type: ignore[assignment]
    return n


def pod(service: str = "trip", cpu_m: int = 1000, anti: bool = True) -> Pod:
    return Pod(service, cpu_m, 2048.0, anti, 0.0)


def test_zone_groups_split_the_pool_limits_over_three_zones() -> None:
    groups = zone_groups(POOL)
    # SPEC.md › Compute prod v2: application pool 6–20 nodes over zones 1, 2, 3.
    assert [g.min_nodes for g in groups] == [2, 2, 2]
    assert sum(g.max_nodes for g in groups) == POOL.max_count == 20
    assert sorted(g.max_nodes for g in groups) == [6, 7, 7]


def test_scale_up_sizes_new_nodes_by_simulating_the_scheduler() -> None:
    nodes = [node(z) for z in POOL.zones]
    for n in nodes:  # every node already runs a trip pod: anti-affinity blocks a second
        bind(pod(), n, 0.0)
    pending = [pod() for _ in range(3)]
    assert all(choose_node(p, nodes, spread=True) is None for p in pending)
    plan = plan_scale_up(pending, nodes, zone_groups(POOL), node())
    assert sum(plan.add.values()) == 3  # one trip pod per new node
    assert len(plan.add) == 3  # balanced over the zones
    assert plan.unplaceable == []
    # Small pods without anti-affinity share one new node.
    small = [pod("user", 500, anti=False) for _ in range(4)]
    full = [node(z) for z in POOL.zones]
    for n in full:
        bind(pod("filler", ALLOC.cpu_m, anti=False), n, 0.0)
    assert sum(plan_scale_up(small, full, zone_groups(POOL), node()).add.values()) == 1


def test_pods_that_fit_on_nodes_being_provisioned_ask_for_nothing() -> None:
    nodes = [node(z) for z in POOL.zones]
    for n in nodes:
        bind(pod(), n, 0.0)
    coming = node("koreacentral-2", state="provisioning")
    plan = plan_scale_up([pod()], [*nodes, coming], zone_groups(POOL), node())
    assert plan.add == {}


def test_a_full_pool_and_a_lost_zone_take_no_new_nodes() -> None:
    groups = zone_groups(POOL)
    at_max = [node(g.zone) for g in groups for _ in range(g.max_nodes)]
    for n in at_max:
        bind(pod(), n, 0.0)
    plan = plan_scale_up([pod()], at_max, groups, node())
    assert plan.add == {} and len(plan.unplaceable) == 1
    few = [node(z) for z in POOL.zones]
    plan = plan_scale_up([pod("user", 500, anti=False)], few, groups, node(),
                         down_zones=["koreacentral-1", "koreacentral-2"])  # fmt: skip
    assert plan.add == {"koreacentral-3": 1}


def _idle_pool(extra_in_zone_1: int) -> list[Node]:
    nodes = [node(z) for z in POOL.zones for _ in range(2)]
    nodes += [node("koreacentral-1") for _ in range(extra_in_zone_1)]
    return nodes


def test_scale_down_after_ten_unneeded_minutes_not_before() -> None:
    settings = CaSettings()
    nodes = _idle_pool(1)
    allow = lambda _: True  # noqa: E731
    assert scale_down(nodes, zone_groups(POOL), 0.0, -3600.0, settings, allow) == []
    assert scale_down(nodes, zone_groups(POOL), 540.0, -3600.0, settings, allow) == []
    removed = scale_down(nodes, zone_groups(POOL), 600.0, -3600.0, settings, allow)
    # Only the zone above its minimum gives a node back (2 per zone is the pool's minimum).
    assert [n.zone for n in removed] == ["koreacentral-1"]


def test_scale_down_waits_after_a_scale_up_and_respects_budgets() -> None:
    settings = CaSettings()
    nodes = _idle_pool(1)
    groups = zone_groups(POOL)
    scale_down(nodes, groups, 0.0, -3600.0, settings, lambda _: True)
    # scale-down-delay-after-add: 10 minutes after the last scale-up nothing is removed.
    assert scale_down(nodes, groups, 700.0, 200.0, settings, lambda _: True) == []
    # A node whose pod may not be disrupted (PodDisruptionBudget) stays.
    busy = _idle_pool(1)
    for n in busy[:-1]:  # every other node over half used: only the last one is unneeded
        bind(pod("filler", ALLOC.cpu_m // 2 + 100, anti=False), n, 0.0)
    bind(pod("trip", 500), busy[-1], 0.0)
    scale_down(busy, groups, 0.0, -3600.0, settings, lambda _: False)
    assert scale_down(busy, groups, 600.0, -3600.0, settings, lambda _: False) == []
    assert scale_down(busy, groups, 600.0, -3600.0, settings, lambda _: True) == [busy[-1]]


def test_a_half_used_node_is_not_unneeded() -> None:
    nodes = _idle_pool(1)
    bind(pod("filler", ALLOC.cpu_m // 2 + 100, anti=False), nodes[-1], 0.0)
    scale_down(nodes, zone_groups(POOL), 0.0, -3600.0, CaSettings(), lambda _: True)
    assert nodes[-1].unneeded_since is None


def test_a_drain_simulation_is_asked_again_once_the_nodes_change() -> None:
    settings, groups = CaSettings(), zone_groups(POOL)
    nodes = _idle_pool(1)
    for n in nodes[:-1]:
        bind(pod("filler", ALLOC.cpu_m // 2 + 100, anti=False), n, 0.0)
    # The last node's pod is larger than any other node's free room: it cannot be drained.
    bind(pod("big", ALLOC.cpu_m // 2 - 50, anti=False), nodes[-1], 0.0)
    memo = DrainMemo()
    scale_down(nodes, groups, 0.0, -3600.0, settings, lambda _: True, memo)
    assert scale_down(nodes, groups, 600.0, -3600.0, settings, lambda _: True, memo) == []
    assert memo.drainable == {nodes[-1].name: False}
    # A filler leaves one node: the big pod now fits there, and the memo must see it.
    unbind(nodes[0].pods[0])
    assert scale_down(nodes, groups, 610.0, -3600.0, settings, lambda _: True, memo) == [nodes[-1]]

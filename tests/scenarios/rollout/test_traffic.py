"""The rollout traffic's route order against nginx's smooth weighted round robin: the new version
must see every route at every step, or a faulty route can go unseen until 100 %."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import pytest

from scenarios.rollout.traffic import TrafficRoute, route_order, routes_for


def smooth_weighted_round_robin(weights: Sequence[int]) -> Iterator[int]:
    """The upstream index nginx picks for each request (ngx_http_upstream_get_peer): every peer
    gains its weight, the highest is picked and loses the total."""
    current = [0] * len(weights)
    total = sum(weights)
    while True:
        for i, weight in enumerate(weights):
            current[i] += weight
        best = max(range(len(weights)), key=lambda i: current[i])
        current[best] -= total
        yield best


def routes_seen_by_the_new_version(
    order: Iterator[TrafficRoute], weights: Sequence[int], new: set[int], requests: int
) -> set[str]:
    picks = smooth_weighted_round_robin(weights)
    return {
        route.name
        for route, peer in zip(itertools.islice(order, requests), picks, strict=False)
        if peer in new
    }


# location: 2 stable + 2 canary replicas, weights as `TrafficSplit.weights` sets them.
STEPS = {"10%": [180, 180, 20, 20], "50%": [100, 100, 100, 100]}


@pytest.mark.parametrize("step", STEPS)
def test_the_canary_sees_every_route_at_every_step(step: str) -> None:
    routes = routes_for("location")
    seen = routes_seen_by_the_new_version(route_order(routes), STEPS[step], {2, 3}, 200)
    assert seen == {r.name for r in routes}


def test_routes_in_turn_would_hide_a_route_from_the_canary() -> None:
    # Why the order is random: two routes in turn against an even nginx cycle send each canary
    # replica the same route every time.
    routes = routes_for("location")
    for weights in STEPS.values():
        for replica in (2, 3):
            seen = routes_seen_by_the_new_version(itertools.cycle(routes), weights, {replica}, 2000)
            assert len(seen) == 1


def test_the_route_order_is_the_same_every_run() -> None:
    routes = routes_for("location")
    first = [r.name for r in itertools.islice(route_order(routes), 50)]
    assert first == [r.name for r in itertools.islice(route_order(routes), 50)]
    assert len(set(first)) == 2

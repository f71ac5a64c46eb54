"""The rollout traffic's route order against nginx's smooth weighted round robin (the new version
must see every route at every step, or a faulty route can go unseen until 100 %), and its one
retry: a request whose keep-alive connection nginx closed at a reload is sent again and counted;
an answer nginx gave, a 502 included, never is."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence

import httpx
import pytest

from scenarios.rollout.traffic import Traffic, TrafficRoute, _User, route_order, routes_for


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


RETRIED_ROUTE = TrafficRoute("location", "/api/locations/cities", "/api/locations/cities")


Outcome = tuple[bool, int | None, str | None, bool]  # ok, status, error, retried


def _send_one(*firsts: Exception | int) -> tuple[list[Outcome], int]:
    """One request through `Traffic._one`; the gateway answers `firsts` in turn, then 200.
    Returns the answers recorded and how many times the request was sent."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        answer = firsts[calls - 1] if calls <= len(firsts) else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    async def run() -> list[Outcome]:
        client = httpx.AsyncClient(base_url="http://gw", transport=httpx.MockTransport(handler))
        traffic = Traffic("http://gw", [RETRIED_ROUTE], rate_rps=1)
        async with client:
            await traffic._one(_User(client, "token"), RETRIED_ROUTE)
        return [(a.ok, a.status, a.error, a.retried) for a in traffic.answers]

    return asyncio.run(run()), calls


@pytest.mark.parametrize(
    "closed",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError(""),  # the same close, racing the request, read as a reset
    ],
)
def test_a_connection_nginx_closed_is_sent_again_and_counted(closed: Exception) -> None:
    assert _send_one(closed) == ([(True, 200, None, True)], 2)


def test_an_answer_from_nginx_is_never_sent_again() -> None:
    assert _send_one(502) == ([(False, 502, None, False)], 1)


def test_a_second_failure_is_reported_not_retried_again() -> None:
    reset = httpx.ReadError("reset")
    assert _send_one(reset, reset) == ([(False, None, "ReadError: reset", True)], 2)

"""M/M/c formulas (Erlang C) for a pool of identical servers."""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """P(an arrival waits) for `servers` servers and offered load a = λ/μ (a < servers)."""
    if servers <= 0:
        raise ValueError("servers must be positive")
    if offered_load <= 0:
        return 0.0
    if offered_load >= servers:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / servers
    return b / (1 - rho + rho * b)


def wait_quantile_s(servers: int, arrival_rate: float, service_rate: float, q: float) -> float:
    """The q-quantile of the time spent queueing (seconds); inf when the pool is saturated.

    In M/M/c, P(W > t) = C · exp(−(cμ − λ) t), so W_q = ln(C / (1 − q)) / (cμ − λ) when
    C > 1 − q, else 0 (at least a fraction q of arrivals never wait).
    """
    capacity = servers * service_rate
    if arrival_rate >= capacity:
        return math.inf
    c = erlang_c(servers, arrival_rate / service_rate)
    tail = 1 - q
    if c <= tail:
        return 0.0
    return math.log(c / tail) / (capacity - arrival_rate)


def utilisation(servers: int, arrival_rate: float, service_rate: float) -> float:
    return arrival_rate / (servers * service_rate)

"""The PromQL selector reader used to check the chart's KEDA queries."""

from __future__ import annotations

import pytest

from simulation.k8s.promql import Matcher, PromQLError, vector_selectors


def test_selectors_functions_groupings_and_ranges() -> None:
    query = 'sum by (route) (rate(http_requests_total{pod=~"a-.+",code!="500"}[5m])) / on (pod) up'
    selectors = vector_selectors(query)
    assert [s.metric for s in selectors] == ["http_requests_total", "up"]
    assert selectors[0].matchers == (Matcher("pod", "=~", "a-.+"), Matcher("code", "!=", "500"))


def test_matching_is_anchored_and_an_absent_label_is_empty() -> None:
    (s,) = vector_selectors('m{pod=~"tripgen-user-.+",service=""}')
    assert s.matches("m", {"pod": "tripgen-user-7c9d8f6b5-x2x7q"})
    assert not s.matches("m", {"pod": "x-tripgen-user-1"})  # regexes are fully anchored
    assert not s.matches("m", {"pod": "tripgen-user-1", "service": "user"})
    assert not s.matches("other", {"pod": "tripgen-user-1"})


def test_unreadable_queries_are_errors() -> None:
    with pytest.raises(PromQLError):
        vector_selectors("sum(")
    with pytest.raises(PromQLError):
        vector_selectors('m{pod~"x"}')

"""The vector selectors of a PromQL query, and whether one selects a given series.

Enough PromQL to check the chart's KEDA queries against the series the services expose: metric
names and `{label op "value"}` matchers (`=`, `!=`, `=~`, `!~`, regexes fully anchored as
Prometheus anchors them), skipping function names, aggregation clauses and range durations. It
is a check of selectors, not an evaluator: a real Prometheus decides what a query returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "and", "or", "unless"}  # fmt: skip
_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                 "count_values", "bottomk", "topk", "quantile"}  # fmt: skip
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^}]*\}|[A-Za-z_:][A-Za-z0-9_:]*|\S')
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


class PromQLError(ValueError):
    """A query this parser cannot read."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")  # an absent label is the empty string
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        return name == self.metric and all(m.matches(labels) for m in self.matchers)


def _matchers(body: str) -> tuple[Matcher, ...]:
    inner, found, pos = body[1:-1], [], 0
    while pos < len(inner.rstrip()):
        m = _MATCHER.match(inner, pos)
        if not m:
            raise PromQLError(f"cannot read the matchers {body!r}")
        value = m.group(3).encode().decode("unicode_escape")
        found.append(Matcher(m.group(1), m.group(2), value))
        pos = m.end()
    return tuple(found)


def vector_selectors(query: str) -> list[Selector]:
    """Every `metric{…}` (or bare metric) of `query`, in order."""
    tokens = _TOKEN.findall(query)
    selectors, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in ("by", "without", "on", "ignoring") and following == "(":
            i = tokens.index(")", i) + 1  # a grouping label list
            continue
        i += 1
        if not re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", token) or token in _KEYWORDS:
            continue
        if following == "(" or (token in _AGGREGATIONS and following in ("by", "without")):
            continue  # a function or an aggregation
        body = following if following.startswith("{") else "{}"
        selectors.append(Selector(token, _matchers(body)))
    if not selectors:
        raise PromQLError(f"no vector selector in {query!r}")
    return selectors

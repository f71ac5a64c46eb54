"""Fixtures of the capacity tests: the prod cluster rendered from the chart, the assumptions
file, and a small synthetic workload (what a calibration produces) with round numbers."""

from __future__ import annotations

import pytest

from simulation.capacity.assumptions import Assumptions, load_assumptions
from simulation.capacity.cluster_spec import ClusterSpec, prod_cluster
from simulation.capacity.workload import Workload
from tests.simulation.capacity.helpers import synthetic_workload


@pytest.fixture(scope="session")
def cluster() -> ClusterSpec:
    return prod_cluster()


@pytest.fixture(scope="session")
def assumptions() -> Assumptions:
    return load_assumptions()


@pytest.fixture
def workload() -> Workload:
    return synthetic_workload()

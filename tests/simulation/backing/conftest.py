"""The production parts (pg_auto_failover, Redis Sentinel, pgBackRest, Prometheus + promtool,
exporters) for the backing tests: installed from Debian when missing — in CI always (a missing
part there is a failure, never a skip), elsewhere as root or with the install command named."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.backing import BinariesMissingError, ensure_binaries, ensure_tools, is_ci
from simulation.backing.binaries import HA_TOOLS, MONITORING_TOOLS
from simulation.backing.processes import scratch_root


@pytest.fixture(scope="session")
def prod_tools() -> None:
    try:
        ensure_binaries()
        ensure_tools((*HA_TOOLS, *MONITORING_TOOLS), why="the prod simulation's tests")
    except BinariesMissingError as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A work directory the unprivileged service account can traverse (tmpfs when there is
    room), removed afterwards."""
    import shutil

    path = Path(tempfile.mkdtemp(prefix="tripgen-test-ha-", dir=scratch_root()))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)

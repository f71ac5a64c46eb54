"""Helpers of the chart tests: pick documents and containers out of rendered manifests."""

from __future__ import annotations

from typing import Any

from simulation.k8s import chart

Doc = dict[str, Any]

SERVICES = ("user", "trip", "ai", "location")


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    """The single document of `kind` named `name`."""
    found = chart.find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def container(deployment: Doc) -> Doc:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(c: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in c.get("env", [])}

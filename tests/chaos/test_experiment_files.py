"""Every experiment file is valid chaostoolkit, follows the conventions, and calls providers
that exist with arguments they accept."""

from __future__ import annotations

import copy
import importlib
import inspect
from typing import Any

import pytest
from chaoslib.experiment import ensure_experiment_is_valid

from chaos.control import select_platform_steps
from chaos.runner import available_experiments, load_experiment

ISSUE_8 = {
    "kill-replica",
    "zone-outage",
    "redis-outage",
    "postgresql-restart",
    "llm-failure-50",
    "poison-messages",
    "dependency-latency",
}


def _activities(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    probes = experiment["steady-state-hypothesis"]["probes"]
    tolerances = [p["tolerance"] for p in probes if isinstance(p.get("tolerance"), dict)]
    return [*probes, *tolerances, *experiment["method"], *experiment["rollbacks"]]


def test_one_file_per_experiment_of_issue_8() -> None:
    assert set(available_experiments()) == ISSUE_8


@pytest.mark.parametrize("name", sorted(ISSUE_8))
def test_valid_and_conventional(name: str) -> None:
    experiment = load_experiment(name)
    ensure_experiment_is_valid(copy.deepcopy(experiment))
    assert experiment["runtime"]["rollbacks"]["strategy"] == "always"
    assert experiment["controls"][0]["provider"]["module"] == "chaos.control"
    assert experiment["steady-state-hypothesis"]["probes"]
    assert experiment["rollbacks"], "every experiment puts the system back"
    assert "secrets" not in experiment


@pytest.mark.parametrize("name", sorted(ISSUE_8))
def test_providers_exist_and_accept_their_arguments(name: str) -> None:
    for activity in _activities(load_experiment(name)):
        provider = activity["provider"]
        module = importlib.import_module(provider["module"])
        func = getattr(module, provider["func"])
        parameters = inspect.signature(func).parameters
        for argument in provider.get("arguments", {}):
            assert argument in parameters, f"{provider['func']} takes no {argument!r}"


def test_kind_steps_are_chaostoolkit_kubernetes_and_dropped_on_local() -> None:
    zone = load_experiment("zone-outage")
    kind_modules = {
        a["provider"]["module"] for a in zone["method"] if "kind" in a.get("platforms", [])
    }
    assert "chaosk8s.node.actions" in kind_modules
    local = copy.deepcopy(zone)
    select_platform_steps(local, "local")
    assert all("kind" not in a.get("platforms", ["local"]) for a in local["method"])
    kind = copy.deepcopy(zone)
    select_platform_steps(kind, "kind")
    names = [a["provider"]["func"] for a in kind["method"]]
    assert names.index("cordon_node") < names.index("drain_nodes") < names.index("uncordon_node")
    assert "uncordon_node" in [a["provider"]["func"] for a in kind["rollbacks"]]

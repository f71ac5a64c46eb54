"""Every experiment file is valid chaostoolkit, follows the conventions, and calls providers
that exist with arguments they accept."""

from __future__ import annotations

import copy
import importlib
import inspect
from typing import Any

import pytest
from chaoslib.experiment import ensure_experiment_is_valid

from chaos.control import extension, select_platform_steps
from chaos.runner import available_experiments, load_experiment
from runs.spec import load_spec

EXPERIMENTS = {
    "kill-replica",
    "zone-outage",
    "redis-outage",
    "postgresql-restart",
    "postgresql-failover",
    "redis-failover",
    "llm-failure-50",
    "poison-messages",
    "dependency-latency",
}


def _activities(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    probes = experiment["steady-state-hypothesis"]["probes"]
    tolerances = [p["tolerance"] for p in probes if isinstance(p.get("tolerance"), dict)]
    return [*probes, *tolerances, *experiment["method"], *experiment["rollbacks"]]


def test_one_file_per_experiment() -> None:
    assert set(available_experiments()) == EXPERIMENTS


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_valid_and_conventional(name: str) -> None:
    experiment = load_experiment(name)
    ensure_experiment_is_valid(copy.deepcopy(experiment))
    assert experiment["runtime"]["rollbacks"]["strategy"] == "always"
    assert experiment["controls"][0]["provider"]["module"] == "chaos.control"
    assert experiment["steady-state-hypothesis"]["probes"]
    assert experiment["rollbacks"], "every experiment puts the system back"
    assert "secrets" not in experiment


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_providers_exist_and_accept_their_arguments(name: str) -> None:
    for activity in _activities(load_experiment(name)):
        provider = activity["provider"]
        module = importlib.import_module(provider["module"])
        func = getattr(module, provider["func"])
        parameters = inspect.signature(func).parameters
        for argument in provider.get("arguments", {}):
            assert argument in parameters, f"{provider['func']} takes no {argument!r}"


def test_kind_steps_use_the_context_checked_provider_and_are_dropped_on_local() -> None:
    zone = load_experiment("zone-outage")
    kind_modules = {
        a["provider"]["module"]
        for a in zone["method"] + zone["rollbacks"]
        if "kind" in a.get("platforms", [])
    }
    # chaostoolkit-kubernetes' node actions would act on whatever context is current (an AKS
    # one included): every cluster-changing kind step goes through the provider that pins the
    # harness's kind context and refuses any other cluster.
    assert "chaosk8s.node.actions" not in kind_modules
    local = copy.deepcopy(zone)
    select_platform_steps(local, "local")
    assert all("kind" not in a.get("platforms", ["local"]) for a in local["method"])
    kind = copy.deepcopy(zone)
    select_platform_steps(kind, "kind")
    names = [a["provider"]["func"] for a in kind["method"]]
    assert names.index("cordon_zone") < names.index("drain_zone") < names.index("uncordon_zone")
    assert "uncordon_zone" in [a["provider"]["func"] for a in kind["rollbacks"]]
    drain = next(a for a in kind["method"] if a["provider"]["func"] == "drain_zone")
    assert drain["provider"]["module"] == "chaos.providers.kube"


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_names_the_fault_that_proves_it_ran(name: str) -> None:
    declared = extension(load_experiment(name))
    assert declared["experiment"] == name
    assert declared["injects"], "an experiment whose fault is not recorded cannot fail loudly"
    assert "issue" not in declared


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_alert_expectations_name_alerts_of_the_spec(name: str) -> None:
    known = {a.id for a in load_spec("prod").alerts}
    alerts = extension(load_experiment(name)).get("alerts", {})
    assert set(alerts) <= {"fire", "quiet"}
    assert set(alerts.get("fire", [])) | set(alerts.get("quiet", [])) <= known

"""Argo Rollouts on kind and AKS, against a fake API that answers as the Kubernetes API and the
Argo Rollouts controller do (Rollout `status.phase` Healthy / Progressing / Paused / Degraded,
`status.abort` and `status.message` when an analysis failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulation.k8s.kubeapi import KubeApiError
from simulation.platforms import argo_rollouts
from simulation.platforms.argo_rollouts import RolloutAborted

CHART = Path(__file__).resolve().parents[3] / "charts" / "tripgen"
NS = "tripgen"
Obj = dict[str, Any]


class FakeApi:
    """GET by path, LIST by path + label selector; 404 for anything absent."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.pods: dict[str, list[Obj]] = {}

    def get(self, path: str) -> Obj | None:
        if path not in self.objects:
            raise KubeApiError("GET", path, 404, "not found")
        return self.objects[path]

    def list(self, path: str, *, label_selector: str = "", field_selector: str = "") -> list[Obj]:
        return self.pods.get(f"{path}?{label_selector}", [])


def _rollout(api: FakeApi, name: str, phase: str, **status: Any) -> None:
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts/{name}"
    api.objects[path] = {"metadata": {"name": name}, "status": {"phase": phase, **status}}


def _ready_controller(api: FakeApi) -> None:
    pod = {"metadata": {"name": "argo-rollouts-1"},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    api.pods[f"/api/v1/namespaces/argo-rollouts/pods?{argo_rollouts.CONTROLLER}"] = [pod]


def test_values_turn_rollouts_on() -> None:
    prod = [CHART / "values.yaml", CHART / "values-prod.yaml"]
    assert not argo_rollouts.enabled_in(prod)
    assert argo_rollouts.enabled_in([*prod, CHART / "ci" / "kind-bluegreen-values.yaml"])


def test_missing_names_crds_and_the_controller() -> None:
    api = FakeApi()
    lacking = argo_rollouts.missing(api)  # type: ignore[arg-type]
    assert "CRD rollouts.argoproj.io absent" in lacking
    assert any("controller pod" in line for line in lacking)
    for crd in argo_rollouts.CRDS:
        api.objects[f"{argo_rollouts.CRD_PATH}/{crd}"] = {"metadata": {"name": crd}}
    _ready_controller(api)
    assert argo_rollouts.missing(api) == []  # type: ignore[arg-type]


def test_pending_until_healthy_and_aborted_is_an_error() -> None:
    api = FakeApi()
    assert "does not exist" in argo_rollouts.rollout_pending(api, NS, "tripgen-user")  # type: ignore[arg-type]
    _rollout(api, "tripgen-user", "Paused", currentStepIndex=1, message="CanaryPauseStep")
    assert argo_rollouts.rollout_pending(api, NS, "tripgen-user") == (  # type: ignore[arg-type]
        "Rollout/tripgen-user: Paused, step 1 CanaryPauseStep"
    )
    _rollout(api, "tripgen-user", "Healthy")
    assert argo_rollouts.rollout_pending(api, NS, "tripgen-user") == ""  # type: ignore[arg-type]
    _rollout(api, "tripgen-user", "Degraded", abort=True,
             message="RolloutAborted: Metric \"error-rate\" assessed Failed")  # fmt: skip
    with pytest.raises(RolloutAborted, match=r"error-rate.*stable version"):
        argo_rollouts.rollout_pending(api, NS, "tripgen-user")  # type: ignore[arg-type]


def _docs() -> list[Obj]:
    return [
        {"kind": "Rollout", "metadata": {"name": "tripgen-user"}},
        {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "tripgen-user"},
         "spec": {"scaleTargetRef": {"kind": "Rollout", "name": "tripgen-user"},
                  "minReplicas": 3}},
    ]  # fmt: skip


def test_wait_release_needs_healthy_rollouts_at_their_hpa_minimum() -> None:
    api = FakeApi()
    _rollout(api, "tripgen-user", "Healthy", readyReplicas=1)
    with pytest.raises(Exception, match="1 ready of the HPA minimum 3"):
        argo_rollouts.wait_release(api, NS, _docs(), timeout_s=0.05, poll_s=0.01)  # type: ignore[arg-type]
    _rollout(api, "tripgen-user", "Healthy", readyReplicas=3)
    assert argo_rollouts.wait_release(api, NS, _docs(), timeout_s=1, poll_s=0.01) >= 0  # type: ignore[arg-type]


def test_wait_release_stops_at_once_on_an_abort() -> None:
    api = FakeApi()
    _rollout(api, "tripgen-user", "Degraded", abort=True, message="analysis failed")
    with pytest.raises(RolloutAborted):
        argo_rollouts.wait_release(api, NS, _docs(), timeout_s=30, poll_s=0.01)  # type: ignore[arg-type]


class RecordingKube:
    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.commands: list[tuple[str, ...]] = []

    def kubectl(self, *args: str, **_: Any) -> None:
        self.commands.append(args)


def test_install_applies_the_pinned_release_server_side_and_waits_for_it() -> None:
    api = FakeApi()
    _ready_controller(api)
    kube = RecordingKube(api)
    argo_rollouts.install(kube, timeout_s=1, poll_s=0.01)
    assert kube.commands[0] == ("create", "namespace", "argo-rollouts")
    assert kube.commands[1] == ("apply", "--server-side", "--namespace", "argo-rollouts",
                                "--filename", argo_rollouts.MANIFEST)  # fmt: skip
    assert argo_rollouts.ARGO_ROLLOUTS_VERSION in argo_rollouts.MANIFEST


def test_install_fails_loudly_without_a_ready_controller() -> None:
    with pytest.raises(Exception, match="did not become ready"):
        argo_rollouts.install(RecordingKube(FakeApi()), timeout_s=0.05, poll_s=0.01)


def test_a_new_revision_is_a_pod_template_change() -> None:
    patch = argo_rollouts.restart_patch(0)
    assert patch == {"spec": {"template": {"metadata": {"annotations": {
        "tripgen.io/revision": "1970-01-01T00:00:00Z"}}}}}  # fmt: skip

"""The API client and the waits against a fake API server whose objects appear asynchronously.

The fake answers as the API reference says (404 `Status` for a missing object, plain-text 404 for
a group that is not served, 401 without credentials); its controllers create pods some time after
a Deployment appears and raise a Deployment to its HPA's minimum later still — the order a real
cluster goes through after `helm upgrade --install --wait` returns.
"""

from __future__ import annotations

import time

import pytest

from simulation.k8s.kubeapi import CORE, KEDA, KubeApi, KubeApiError, namespaced
from simulation.k8s.waits import (
    Autoscaler,
    WaitTimeout,
    Workload,
    hpa_pending,
    release_autoscalers,
    wait_hpa_minimums,
    wait_pods_gone,
    wait_pods_ready,
    wait_rolled_out,
)
from tests.chart.chart_support import Doc
from tests.simulation.k8s.conftest import FakeApi
from tests.simulation.k8s.kube_objects import NS, deployment, hpa, node, pod

FAST = {"poll_s": 0.05}


def test_a_missing_object_is_none_and_other_errors_carry_the_status(fake_api: FakeApi) -> None:
    api = fake_api.api()
    assert api.get(namespaced(CORE, NS, "pods", "nope")) is None
    with pytest.raises(KubeApiError) as caught:
        api.list(namespaced(KEDA, NS, "scaledobjects"))  # KEDA not installed: group not served
    assert caught.value.status == 404
    assert "404 page not found" in caught.value.message
    stranger = KubeApi(api.credentials.__class__(server=api.server, headers={}), "anonymous")
    with pytest.raises(KubeApiError) as unauthorised:
        stranger.list(f"{CORE}/nodes")
    assert (unauthorised.value.status, unauthorised.value.reason) == (401, "Unauthorized")


def test_an_unknown_context_is_named(fake_api: FakeApi) -> None:
    with pytest.raises(KubeApiError, match="no context 'kind-elsewhere'"):
        fake_api.api("kind-elsewhere")


def test_pods_are_awaited_until_they_exist_and_are_ready(fake_api: FakeApi) -> None:
    # right after `kubectl apply` no controller pod exists yet: that is pending, not an error
    cluster, api = fake_api.cluster, fake_api.api()
    cluster.put(node("worker", zone="koreacentral-1"))
    selector = "app.kubernetes.io/component=controller"
    labels = {"app.kubernetes.io/component": "controller"}
    cluster.later(0.3, lambda: cluster.put(pod("ingress-abc", "worker", labels=labels,
                                               ns="ingress-nginx", ready=False)))  # fmt: skip
    cluster.later(0.6, lambda: cluster.put(pod("ingress-abc", "worker", labels=labels,
                                               ns="ingress-nginx")))  # fmt: skip
    seconds = wait_pods_ready(api, "ingress-nginx", selector, timeout_s=5, **FAST)
    assert seconds >= 0.5


def test_pods_never_created_time_out_naming_what_is_missing(fake_api: FakeApi) -> None:
    with pytest.raises(WaitTimeout, match="no pod matches app=ghost in tripgen yet"):
        wait_pods_ready(fake_api.api(), NS, "app=ghost", timeout_s=0.3, **FAST)


def test_rollout_waits_for_a_workload_that_does_not_exist_yet(fake_api: FakeApi) -> None:
    cluster, api = fake_api.cluster, fake_api.api()
    cluster.put(node("worker"))
    cluster.later(0.3, lambda: cluster.put(deployment("tripgen-user", "user", replicas=2)))
    wait_rolled_out(api, NS, [Workload("Deployment", "tripgen-user")], timeout_s=5, **FAST)
    live = cluster.find("Deployment", "tripgen-user", NS)
    assert live is not None
    assert live["status"]["readyReplicas"] == 2


def test_hpa_wait_ends_only_at_the_minimum_with_ready_pods(fake_api: FakeApi) -> None:
    # The chart omits `replicas` under an HPA: the API defaults it to 1, so `helm --wait` is
    # satisfied by one ready pod while the HPA still has to raise the Deployment to 3.
    cluster, api = fake_api.cluster, fake_api.api()
    cluster.put(node("worker"))
    cluster.put(deployment("tripgen-trip", "trip"))
    cluster.put(hpa("tripgen-trip", "tripgen-trip", minimum=3))
    trip = Autoscaler("tripgen-trip", "tripgen-trip", 3)
    time.sleep(0.25)  # one pod is up: what helm --wait accepts
    assert hpa_pending(api, NS, trip) != ""
    wait_hpa_minimums(api, NS, [trip], timeout_s=5, **FAST)
    live = cluster.find("Deployment", "tripgen-trip", NS)
    assert live is not None
    assert live["status"]["readyReplicas"] >= 3
    ready = [
        p
        for p in api.list(
            namespaced(CORE, NS, "pods"), label_selector="app.kubernetes.io/component=trip"
        )
        if p["status"]["phase"] == "Running"
    ]
    assert len(ready) >= 3


def test_hpa_that_never_reaches_its_minimum_times_out(fake_api: FakeApi) -> None:
    cluster, api = fake_api.cluster, fake_api.api()
    cluster.hpa_after_s = 60  # the HPA controller never acts (e.g. no metrics-server)
    cluster.put(node("worker"))
    cluster.put(deployment("tripgen-ai", "ai"))
    cluster.put(hpa("tripgen-ai", "tripgen-ai", minimum=2))
    with pytest.raises(
        WaitTimeout, match="HorizontalPodAutoscaler/tripgen-ai: 0 current of minimum 2"
    ):
        wait_hpa_minimums(
            api, NS, [Autoscaler("tripgen-ai", "tripgen-ai", 2)], timeout_s=0.5, **FAST
        )


def test_an_hpa_keda_has_not_created_yet_is_pending(fake_api: FakeApi) -> None:
    line = hpa_pending(fake_api.api(), NS, Autoscaler("tripgen-ai", "tripgen-ai", 2))
    assert line == "HorizontalPodAutoscaler/tripgen-ai does not exist yet"


def test_waiting_for_pods_to_go_is_done_when_none_exists(fake_api: FakeApi) -> None:
    assert wait_pods_gone(fake_api.api(), NS, "app=redis", timeout_s=1, **FAST) < 0.5


def test_the_release_names_its_autoscalers(render) -> None:
    prod_kind: list[Doc] = render("prod+kind")
    found = {a.hpa: a for a in release_autoscalers(prod_kind)}
    # SPEC.md › Autoscaling and disruption: HPA minimums 3/3/2/2
    assert {n: a.min_replicas for n, a in found.items()} == {
        "tripgen-user": 3,
        "tripgen-trip": 3,
        "tripgen-ai": 2,
        "tripgen-location": 2,
    }
    keda = {a.hpa: a for a in release_autoscalers(render("ci:kind-keda"))}
    assert keda["tripgen-ai"].min_replicas == 2  # advanced.horizontalPodAutoscalerConfig.name

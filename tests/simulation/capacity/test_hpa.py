"""The HPA loop against the worked examples of the Kubernetes documentation
(kubernetes.io › Horizontal Pod Autoscaling › Algorithm details, Scaling policies, Stabilization
window, Default behavior; the HPA walkthrough) and the controller's own rules
(pkg/controller/podautoscaler: replica calculator, normalisation)."""

from __future__ import annotations

import pytest

from simulation.capacity.hpa import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    HorizontalPodAutoscaler,
    HpaSpec,
    MetricTarget,
    PodSample,
    ScalingPolicy,
    ScalingRules,
    desired_replicas,
    replicas_for_resource,
)

CPU_50 = MetricTarget("cpu", 0.5)


def pods(*usages: float | None, request: float = 1000.0, **fields: object) -> list[PodSample]:
    """Pods with CPU usage in millicores (None: no metrics yet), started long ago, ready."""
    return [
        PodSample(
            name=f"p{i}",
            request={"cpu": request},
            usage=None if u is None else {"cpu": u},
            started_at=-3600.0,
            ready_changed_at=-3600.0,
            metric_at=0.0,
            **fields,  # type: ignore[arg-type]
        )
        for i, u in enumerate(usages)
    ]


def spec(minimum: int = 1, maximum: int = 100, **fields: object) -> HpaSpec:
    return HpaSpec(minimum, maximum, (CPU_50,), **fields)  # type: ignore[arg-type]


def test_ratio_examples_of_the_algorithm_details() -> None:
    # "if the current metric value is 200m, and the desired value is 100m, the number of
    # replicas will be doubled … If the current value is instead 50m, you'll halve".
    assert desired_replicas(4, 200, 100, 0.1) == 8
    assert desired_replicas(4, 50, 100, 0.1) == 2
    # "The control plane skips any scaling action if the ratio is sufficiently close to 1.0
    # (within a globally-configurable tolerance, 0.1 by default)."
    assert desired_replicas(4, 108, 100, 0.1) == 4
    assert desired_replicas(4, 112, 100, 0.1) == 5


def test_configurable_tolerance_blog_example() -> None:
    # Kubernetes v1.33 blog: 50 replicas at 90 % CPU with a 75 % target → 60.
    assert desired_replicas(50, 90, 75, 0.1) == 60


def test_replica_calculator_uses_the_average_over_ready_pods() -> None:
    # Three pods at 100 % of a 50 % target: ratio 2 → ceil(2 × 3) = 6.
    assert replicas_for_resource(pods(1000, 1000, 1000), CPU_50, 3, 0.0, spec()) == 6
    # Within the tolerance: unchanged.
    assert replicas_for_resource(pods(520, 520), CPU_50, 2, 0.0, spec()) == 2


def test_missing_metrics_dampen_both_directions() -> None:
    # "If any pod is missing metrics … on scale down assume 100 % of the desired value, on
    # scale up 0 %." Three pods at 150 % of target, one missing: (1.5 × 3 + 0) / 4 → 5.
    assert replicas_for_resource(pods(750, 750, 750, None), CPU_50, 4, 0.0, spec()) == 5
    # Scale down, one missing counted at its full request: (0.2 × 3 + 2) / 4 = 0.65 → 3.
    assert replicas_for_resource(pods(100, 100, 100, None), CPU_50, 4, 0.0, spec()) == 3


def test_unready_pods_count_as_zero_on_scale_up_and_pending_pods_are_ignored() -> None:
    ready = pods(1000, 1000)
    unready = [
        PodSample("u", {"cpu": 1000.0}, {"cpu": 900.0}, ready=False, started_at=0.0, metric_at=5.0)
    ]
    pending = [PodSample("w", {"cpu": 1000.0}, None, pending=True)]
    # Ready pods at ratio 2; the unready pod counts 0: (2 + 2 + 0) / 3 = 1.33 → ceil(1.33 × 3) = 4.
    assert replicas_for_resource(ready + unready + pending, CPU_50, 4, 10.0, spec()) == 4


def test_walkthrough_one_replica_at_305_percent_reaches_7_within_the_rate_limit() -> None:
    # HPA walkthrough: php-apache at 305 % of its 50 % target with 1 replica settles at 7.
    # The default scale-up policy (max of 4 pods, 100 % per 15 s) allows 1 → 5, then → 7.
    hpa = HorizontalPodAutoscaler(spec(maximum=10))
    # The walkthrough's pod requests 200m and uses 305 % of it; the same load spreads over
    # however many pods run: ceil(1 × 6.1) = 7 is capped at 1 + 4 = 5, then 5 × 1.22 → 7.
    load = 3.05 * 200
    first = hpa.step(0.0, 1, pods(load, request=200))
    assert first == 5
    second = hpa.step(15.0, first, pods(*[load / first] * first, request=200))
    assert second == 7
    assert hpa.step(30.0, second, pods(*[load / second] * second, request=200)) == 7


def test_scale_up_limit_is_the_larger_of_4_pods_and_100_percent() -> None:
    hpa = HorizontalPodAutoscaler(spec(maximum=100))
    assert hpa.step(0.0, 2, pods(*[5000] * 2)) == 6  # 2 + 4 pods beats 2 × 2
    hpa = HorizontalPodAutoscaler(spec(maximum=100))
    assert hpa.step(0.0, 10, pods(*[5000] * 10)) == 20  # 100 % beats 4 pods
    # Within one 15 s period the added pods count against the limit.
    hpa = HorizontalPodAutoscaler(spec(maximum=100))
    assert hpa.step(0.0, 10, pods(*[5000] * 10)) == 20
    assert hpa.step(10.0, 20, pods(*[5000] * 20)) == 20


def test_scale_down_waits_for_the_300_s_stabilisation_window() -> None:
    # "the highest recommendation from the last 5 minutes is used" (scaleDown default 300 s).
    hpa = HorizontalPodAutoscaler(spec(minimum=2, maximum=20))
    assert hpa.step(0.0, 10, pods(*[500] * 10)) == 10  # on target
    for t in range(15, 300, 15):
        assert hpa.step(float(t), 10, pods(*[100] * 10)) == 10  # 20 % load, held
    assert hpa.step(315.0, 10, pods(*[100] * 10)) == 2


def test_scaling_policies_example_percent_only_used_above_40_pods() -> None:
    # Docs › Scaling policies: scaleDown with Pods 4 / 60 s and Percent 10 / 60 s: "the second
    # policy will only be used when the number of pod replicas is more than 40".
    rules = ScalingRules(
        0.0, "Max", (ScalingPolicy("Pods", 4, 60.0), ScalingPolicy("Percent", 10, 60.0))
    )
    big = HorizontalPodAutoscaler(spec(minimum=1, maximum=100, scale_down=rules))
    assert big.step(0.0, 80, pods(*[50] * 80)) == 72  # 10 % of 80 = 8 > 4 pods
    small = HorizontalPodAutoscaler(spec(minimum=1, maximum=100, scale_down=rules))
    assert small.step(0.0, 30, pods(*[50] * 30)) == 26  # 4 pods > 10 % of 30


def test_limits_and_max_reached_flag() -> None:
    hpa = HorizontalPodAutoscaler(spec(minimum=3, maximum=10))
    assert hpa.step(0.0, 8, pods(*[5000] * 8)) == 10
    assert hpa.limited_by_max
    assert hpa.step(15.0, 1, pods(500)) == 3  # below min: brought up to min


def test_defaults_are_kubernetes_defaults() -> None:
    assert DEFAULT_SCALE_UP.stabilization_s == 0
    assert {(p.kind, p.value, p.period_s) for p in DEFAULT_SCALE_UP.policies} == {
        ("Pods", 4, 15.0),
        ("Percent", 100, 15.0),
    }
    assert DEFAULT_SCALE_DOWN.stabilization_s == 300
    assert spec().tolerance == pytest.approx(0.1)
    assert spec().sync_period_s == 15

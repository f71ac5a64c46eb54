"""rollouts.enabled: Argo Rollouts objects instead of Deployments, judged by an AnalysisTemplate
whose lines are the SLA spec's (generated like the PrometheusRule, kept in sync here), validated
strictly against the vendored CRD schemas."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest

from runs.spec import load_spec
from scenarios.rollout import chart_analysis
from scenarios.rollout.analysis import thresholds_from_spec
from simulation.k8s import chart
from tests.chart.chart_support import SERVICES, Doc, one

Render = Callable[[str], list[Doc]]


@pytest.fixture(scope="module")
def canary(render: Render) -> list[Doc]:
    return render("ci:prod-rollouts")


@pytest.fixture(scope="module")
def blue_green(render: Render) -> list[Doc]:
    return render("ci:kind-bluegreen")


def test_analysis_file_is_in_sync_with_the_spec() -> None:
    assert chart_analysis.chart_path("prod").read_text("utf-8") == chart_analysis.render("prod"), (
        "charts/tripgen/analysis/prod.yaml is out of date: "
        "python -m scenarios.rollout.chart_analysis"
    )


def test_rollouts_replace_deployments_with_the_same_pod_template(
    canary: list[Doc], prod: list[Doc]
) -> None:
    assert chart.find(canary, "Deployment") == []
    for service in SERVICES:
        rollout = one(canary, "Rollout", f"tripgen-{service}")
        deployment = one(prod, "Deployment", f"tripgen-{service}")
        assert rollout["spec"]["template"] == deployment["spec"]["template"]
        assert rollout["spec"]["selector"] == deployment["spec"]["selector"]
        hpa = one(canary, "HorizontalPodAutoscaler", f"tripgen-{service}")
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": f"tripgen-{service}",
        }


def test_canary_steps_are_10_50_100_with_a_pause_each(canary: list[Doc]) -> None:
    for service in SERVICES:
        strategy = one(canary, "Rollout", f"tripgen-{service}")["spec"]["strategy"]["canary"]
        weights = [s["setWeight"] for s in strategy["steps"] if "setWeight" in s]
        assert weights == [10, 50, 100]
        assert [s for s in strategy["steps"] if "pause" in s] == [{"pause": {"duration": 60}}] * 3
        analysis = strategy["analysis"]
        assert analysis["templates"] == [{"templateName": "tripgen-slo"}]
        assert analysis["args"] == [
            {"name": "service", "value": service},
            {"name": "pod-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        ]
        assert analysis["startingStep"] == 1  # judged from the first weight on


def test_analysis_lines_are_the_specs(canary: list[Doc]) -> None:
    thresholds = thresholds_from_spec(load_spec("prod"))
    template = one(canary, "AnalysisTemplate", "tripgen-slo")
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    assert set(metrics) == {"error-rate", "p95-ms", "ai-p95-ms"}
    expected = {
        "error-rate": ("<=", thresholds.error_rate.limit),
        "p95-ms": ("<", thresholds.p95_ms.limit / 1000),
        "ai-p95-ms": ("<=", thresholds.ai_p95_ms.limit / 1000),
    }
    for name, (op, limit) in expected.items():
        m = metrics[name]
        found = re.search(r"result\[0\] (<=|<) ([0-9.]+)$", m["successCondition"])
        assert found is not None and (found[1], float(found[2])) == (op, pytest.approx(limit))
        assert m["failureLimit"] == 0 and m["interval"] == "30s"
        query = m["provider"]["prometheus"]["query"]
        assert 'service="{{args.service}}"' in query
        assert 'rollouts_pod_template_hash="{{args.pod-hash}}"' in query
        address = m["provider"]["prometheus"]["address"]
        assert address == "http://prometheus-operated.monitoring.svc:9090"
    assert template["spec"]["args"] == [{"name": "service"}, {"name": "pod-hash"}]


def test_blue_green_has_a_preview_service_and_judges_before_and_after(
    blue_green: list[Doc],
) -> None:
    for service in SERVICES:
        strategy = one(blue_green, "Rollout", f"tripgen-{service}")["spec"]["strategy"]
        green = strategy["blueGreen"]
        active = one(blue_green, "Service", green["activeService"])
        preview = one(blue_green, "Service", green["previewService"])
        assert green["previewService"] == f"tripgen-{service}-preview"
        assert preview["spec"]["selector"] == active["spec"]["selector"]
        assert preview["spec"]["ports"] == active["spec"]["ports"]
        assert green["autoPromotionEnabled"] is True
        assert green["scaleDownDelaySeconds"] == 120  # blue kept for a fast switch back
        assert green["prePromotionAnalysis"] == green["postPromotionAnalysis"]
        assert "canary" not in strategy


@pytest.mark.parametrize("profile", ["ci:prod-rollouts", "ci:kind-bluegreen"])
def test_rendered_objects_validate_strictly(render: Render, profile: str) -> None:
    docs = render(profile)
    assert chart.validate_documents(docs) == []
    checked = {chart.validate_document(d)[0] for d in docs if d["kind"] in ("Rollout",
               "AnalysisTemplate")}  # fmt: skip
    assert checked == {
        "crd-schemas/rollout-argoproj.io-v1alpha1.json",
        "crd-schemas/analysistemplate-argoproj.io-v1alpha1.json",
    }


def test_strict_validation_catches_unknown_fields(canary: list[Doc]) -> None:
    rollout = copy.deepcopy(one(canary, "Rollout", "tripgen-user"))
    rollout["spec"]["strategy"]["canary"]["steps"][0]["setWieght"] = 10
    _, errors = chart.validate_document(rollout)
    assert errors and "setWieght" in errors[0]
    bad_pod = copy.deepcopy(one(canary, "Rollout", "tripgen-user"))
    bad_pod["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    _, errors = chart.validate_document(bad_pod)
    assert errors and "imagePullPolice" in errors[0]
    template = copy.deepcopy(one(canary, "AnalysisTemplate", "tripgen-slo"))
    template["spec"]["metrics"][0]["provider"]["prometheus"]["qurey"] = "up"
    _, errors = chart.validate_document(template)
    assert errors


def test_strategy_is_checked_by_the_values_schema() -> None:
    with pytest.raises(chart.ChartError, match="strategy"):
        chart.render("prod", ("rollouts.enabled=true", "rollouts.strategy=rolling"))

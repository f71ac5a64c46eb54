"""The SLA alerts: one source (runs/specs/prod.yaml) for the local Prometheus's rules and the
chart's PrometheusRule, checked by promtool (`check rules`) and unit-tested by it (`test rules`:
a firing and a quiet case for every alert, derived from the spec's own lines)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from runs.alert_tests import rule_tests, write_rule_tests
from runs.alerts import chart_limits, chart_rules_path, render_rules, rule_groups
from runs.spec import SPEC_DIR, SpecError, load_spec
from simulation.backing import BinariesMissingError, ensure_tools, is_ci
from simulation.backing.prometheus import promtool
from simulation.k8s import chart

SPEC_ALERTS = {
    "availability": "< 0.999",
    "error-rate": "> 0.01",
    "ai-response": "> 5",
    "pod-restarts": "> 5",
    "cpu": "> 0.8",
    "memory": "> 0.85",
    "db-connections": "> 0.8",
}


@pytest.fixture(scope="module")
def with_promtool() -> None:
    """promtool from Debian's `prometheus`, installed when missing (always in CI)."""
    try:
        ensure_tools(["promtool"], why="the alert rules' unit tests")
    except BinariesMissingError as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


def test_the_seven_spec_alerts_draw_the_spec_s_lines() -> None:
    spec = load_spec("prod")
    alerts = {
        rule["labels"]["slo"]: rule for rule in rule_groups(spec, chart_limits("prod"))[1]["rules"]
    }
    assert set(alerts) == set(SPEC_ALERTS)
    for alert_id, line in SPEC_ALERTS.items():
        assert line in alerts[alert_id]["expr"], alert_id
    assert alerts["cpu"]["for"] == "10m" and alerts["memory"]["for"] == "5m"
    assert "[10m]" in alerts["pod-restarts"]["expr"]
    assert "[5m]" in alerts["availability"]["expr"] and "[2m]" in alerts["ai-response"]["expr"]
    # A service with no replica up has no request rate: the rule still fires.
    assert 'max by (service) (up{job="tripgen"}) == 0' in alerts["availability"]["expr"]


def test_an_alert_watching_an_objective_takes_its_line_from_there(tmp_path: Path) -> None:
    raw = yaml.safe_load((SPEC_DIR / "prod.yaml").read_text())
    raw["objectives"] = [
        {**o, "threshold": 0.995} if o["id"] == "alert-availability" else o
        for o in raw["objectives"]
    ]
    (tmp_path / "prod.yaml").write_text(yaml.safe_dump(raw))
    moved = render_rules(load_spec(tmp_path / "prod.yaml"), chart_limits("prod"))
    assert ") < 0.995\n" in moved


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"objective": "no-such-objective"}, "names objective 'no-such-objective'"),
        ({"threshold": 0.5}, "comes from the named objective"),
        ({"signal": "cpu"}, "signal cpu cannot watch objective"),
    ],
)
def test_a_wrong_alert_is_refused_with_its_line(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    raw = yaml.safe_load((SPEC_DIR / "prod.yaml").read_text())
    raw["alerts"] = copy.deepcopy(raw["alerts"])
    raw["alerts"][0].update(change)
    (tmp_path / "prod.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(SpecError, match=message):
        load_spec(tmp_path / "prod.yaml")


def test_the_chart_carries_exactly_the_generated_rules() -> None:
    # regenerate with `python -m runs.alerts chart`
    assert chart_rules_path("prod").read_text() == render_rules(load_spec("prod"))


def test_the_prod_chart_renders_them_as_a_valid_prometheus_rule() -> None:
    docs = chart.render("prod")
    (rule,) = chart.find(docs, "PrometheusRule")
    assert chart.validate_document(rule)[1] == []
    generated = yaml.safe_load(render_rules(load_spec("prod")))
    assert rule["spec"] == generated
    assert not chart.find(chart.render("dev"), "PrometheusRule")  # dev: no operator assumed


def test_promtool_checks_the_rules_and_passes_their_unit_tests(
    with_promtool: None, tmp_path: Path
) -> None:
    spec = load_spec("prod")
    rules, tests = write_rule_tests(spec, tmp_path)
    assert "SUCCESS: 15 rules found" in promtool("check", "rules", str(rules))
    cases = rule_tests(spec, chart_limits("prod"))["tests"]
    assert len(cases) == 2 * len(spec.alerts)  # a firing and a quiet case per alert
    assert "SUCCESS" in promtool("test", "rules", str(tests), cwd=tmp_path)


def test_promtool_tests_catch_a_rule_that_drifted(with_promtool: None, tmp_path: Path) -> None:
    spec = load_spec("prod")
    rules, tests = write_rule_tests(spec, tmp_path)
    rules.write_text(rules.read_text().replace(") < 0.999", ") < 0.99"))
    with pytest.raises(Exception, match="TripGenAvailabilityBelowSLA"):
        promtool("test", "rules", str(tests), cwd=tmp_path)

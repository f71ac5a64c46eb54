"""Prometheus alert rules from an SLA spec's `alerts:` (runs.alerting): one rendering feeds the
local Prometheus (`simulation.platforms.local_monitoring`) and the chart's PrometheusRule
(`charts/tripgen/alerts/<spec>.yaml`, included verbatim by templates/prometheusrule.yaml).

    python -m runs.alerts render --spec prod            # the rules file on stdout
    python -m runs.alerts chart [--check]               # write (or check) the chart's copy
    python -m runs.alert_tests --out DIR                # rules + promtool unit tests in DIR

Series the rules read: the services' own metrics (`http_requests_total`, `ai_generation_seconds`,
`process_*` from prometheus-client) under job `tripgen` with labels `service`, `zone`, `replica`
(the local scrape config sets them; on Kubernetes a pod monitor's relabelling must), `up`, and
the PostgreSQL exporter's `pg_stat_activity_count` / `pg_settings_max_connections`.
A rule over `rate()` goes quiet when its targets vanish, so availability also fires when a
service has no replica up at all (`up == 0`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runs.alerting import AlertRule
from runs.spec import SlaSpec, load_spec

REPO_ROOT = Path(__file__).resolve().parent.parent
CHART_DIR = REPO_ROOT / "charts" / "tripgen"
CHART_ALERTS_DIR = CHART_DIR / "alerts"
SERVICES = ("user", "trip", "ai", "location")
JOB = "tripgen"
# Probes and scrapes are not users' requests.
NOT_USER_ROUTES = "/actuator/.*|/metrics"
LIMITS_GROUP = "tripgen-limits"
ALERTS_GROUP = "tripgen-slo-alerts"
CPU_LIMIT = "tripgen:cpu_limit_cores"
MEMORY_LIMIT = "tripgen:memory_limit_bytes"
_NEGATION = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


@dataclass(frozen=True)
class Limits:
    """A service pod's resource limits (chart values)."""

    cpu_cores: float
    memory_bytes: float


@dataclass(frozen=True)
class Condition:
    """When an alert fires: `value comparator threshold` (in the rule's unit), held `for_s`."""

    comparator: str
    threshold: float
    window_s: float | None
    for_s: float


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole % 60 == 0 and whole:
        return f"{whole // 60}m"
    return f"{whole}s"


def _cpu(text: str | int | float) -> float:
    value = str(text)
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 1e3, "M": 1e6, "G": 1e9}


def _memory(text: str | int | float) -> float:
    value = str(text)
    for suffix, factor in _MEMORY_UNITS.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def chart_limits(profile: str, chart_dir: Path = CHART_DIR) -> dict[str, Limits]:
    """Each service's limits: `values.yaml` overlaid by `values-<profile>.yaml`."""
    found: dict[str, Limits] = {}
    layers = [chart_dir / "values.yaml", chart_dir / f"values-{profile}.yaml"]
    values = [yaml.safe_load(p.read_text("utf-8")) or {} for p in layers if p.exists()]
    for service in SERVICES:
        limits: dict[str, Any] = {}
        for layer in values:
            limits.update(
                ((layer.get("services") or {}).get(service) or {})
                .get("resources", {})
                .get("limits", {})
                or {}
            )
        if "cpu" not in limits or "memory" not in limits:
            raise ValueError(f"no cpu/memory limits for {service} in {', '.join(map(str, layers))}")
        found[service] = Limits(_cpu(limits["cpu"]), _memory(limits["memory"]))
    return found


def condition(alert: AlertRule, spec: SlaSpec) -> Condition:
    """The firing condition: the named objective's line negated (the objective says what is
    fine; the alert fires when it is not), or the alert's own."""
    if alert.objective is None:
        assert alert.comparator is not None and alert.threshold is not None
        return Condition(alert.comparator, alert.threshold, alert.window_s, alert.for_s)
    objective = spec.objective(alert.objective)
    threshold = objective.threshold
    if objective.metric.endswith("_ms"):
        threshold /= 1000.0  # Prometheus histograms are in seconds
    return Condition(_NEGATION[objective.comparator], threshold, objective.window_s, alert.for_s)


def _requests(window: str, *, errors: bool, by: str) -> str:
    status = ',status=~"5.."' if errors else ""
    selector = f'{{job="{JOB}",route!~"{NOT_USER_ROUTES}"{status}}}'
    return f"sum{by} (rate(http_requests_total{selector}[{window}]))"


def expression(alert: AlertRule, when: Condition) -> str:
    """The PromQL of `alert` firing under `when`."""
    window = _duration(when.window_s or 120)
    line = f"{when.comparator} {when.threshold:g}"
    if alert.signal == "availability":
        errors = _requests(window, errors=True, by=" by (service)")
        total = _requests(window, errors=False, by=" by (service)")
        return (
            f"1 - (\n  {errors}\n  / {total}\n) {line}\n"
            f'or max by (service) (up{{job="{JOB}"}}) == 0'
        )
    if alert.signal == "error_rate":
        errors = _requests(window, errors=True, by="")
        total = _requests(window, errors=False, by="")
        return f"(\n  {errors}\n  / {total}\n) {line}"
    if alert.signal == "ai_response_p95":
        return (
            "histogram_quantile(0.95, sum by (le) "
            f'(rate(ai_generation_seconds_bucket{{job="{JOB}"}}[{window}]))) {line}'
        )
    if alert.signal == "restarts":
        return f'changes(process_start_time_seconds{{job="{JOB}"}}[{window}]) {line}'
    if alert.signal == "cpu":
        return (
            "sum by (service, zone, replica) "
            f'(rate(process_cpu_seconds_total{{job="{JOB}"}}[{window}]))\n'
            f"/ on (service) group_left () {CPU_LIMIT} {line}"
        )
    if alert.signal == "memory":
        return (
            f'sum by (service, zone, replica) (process_resident_memory_bytes{{job="{JOB}"}})\n'
            f"/ on (service) group_left () {MEMORY_LIMIT} {line}"
        )
    return (
        "sum by (server) (pg_stat_activity_count)\n"
        f"/ on (server) group_left () max by (server) (pg_settings_max_connections) {line}"
    )


def alert_labels(alert: AlertRule, spec: SlaSpec) -> dict[str, str]:
    return {"severity": alert.severity, "slo": alert.id, "spec": spec.profile}


def alert_annotations(alert: AlertRule, spec: SlaSpec) -> dict[str, str]:
    """Static text (no templates): the same words on every platform and in the unit tests."""
    found = {"summary": alert.description, "source": alert.source}
    if alert.objective is not None:
        found["objective"] = f"{spec.profile}.yaml › {alert.objective}"
    if alert.note:
        found["note"] = alert.note
    return found


def rule_groups(spec: SlaSpec, limits: Mapping[str, Limits]) -> list[dict[str, Any]]:
    """The rule groups: the pods' limits as recorded series, then one alert per spec alert."""
    records = [
        {
            "record": name,
            "expr": f"vector({value})",
            "labels": {"service": service},
        }
        for service, limit in limits.items()
        for name, value in (
            (CPU_LIMIT, f"{limit.cpu_cores:g}"),
            (MEMORY_LIMIT, f"{limit.memory_bytes:.0f}"),
        )
    ]
    alerts = []
    for alert in spec.alerts:
        when = condition(alert, spec)
        rule: dict[str, Any] = {"alert": alert.alert, "expr": expression(alert, when)}
        if when.for_s:
            rule["for"] = _duration(when.for_s)
        rule["labels"] = alert_labels(alert, spec)
        rule["annotations"] = alert_annotations(alert, spec)
        alerts.append(rule)
    return [{"name": LIMITS_GROUP, "rules": records}, {"name": ALERTS_GROUP, "rules": alerts}]


class _BlockDumper(yaml.SafeDumper):
    """Multi-line PromQL as literal blocks, one clause a line, as people write rule files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def render_rules(spec: SlaSpec, limits: Mapping[str, Limits] | None = None) -> str:
    """The rules file (`groups: …`): Prometheus's rule file and the PrometheusRule's spec."""
    limits = limits if limits is not None else chart_limits(spec.deploys)
    header = (
        f"# Generated from runs/specs/{spec.profile}.yaml by `python -m runs.alerts`.\n"
        f"# CPU and memory limits: charts/tripgen values for {spec.deploys}.\n"
    )
    body = yaml.dump(
        {"groups": rule_groups(spec, limits)},
        Dumper=_BlockDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return header + body


def chart_rules_path(spec_name: str) -> Path:
    return CHART_ALERTS_DIR / f"{spec_name}.yaml"


def _cmd_render(args: argparse.Namespace) -> int:
    sys.stdout.write(render_rules(load_spec(args.spec)))
    return 0


def _cmd_chart(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    path = chart_rules_path(spec.profile)
    wanted = render_rules(spec)
    current = path.read_text("utf-8") if path.exists() else None
    if args.check:
        if current != wanted:
            print(f"{path} is out of date; run: python -m runs.alerts chart", file=sys.stderr)
            return 1
        print(f"{path} matches runs/specs/{spec.profile}.yaml")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wanted, "utf-8")
    print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runs.alerts", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print the rules file")
    render.add_argument("--spec", default="prod")
    render.set_defaults(handler=_cmd_render)
    chart = sub.add_parser("chart", help="write the chart's copy of the rules")
    chart.add_argument("--spec", default="prod")
    chart.add_argument("--check", action="store_true", help="only check it is in sync")
    chart.set_defaults(handler=_cmd_chart)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())

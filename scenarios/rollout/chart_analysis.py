"""The Argo Rollouts analysis of the chart, generated from the SLA spec like its PrometheusRule
(`runs.alerts`): the same three lines the local rollout judges by (`analysis.thresholds_from_spec`)
as Prometheus queries per version, written to `charts/tripgen/analysis/<spec>.yaml` and read by
templates/analysistemplate.yaml.

    python -m scenarios.rollout.chart_analysis            # write the chart's copy
    python -m scenarios.rollout.chart_analysis --check    # fail when it is out of date

Each metric selects one version of one service: `service` and `rollouts_pod_template_hash`
are labels the cluster's scrape config must set from the pod's labels (`app.kubernetes.io/
component` → service, `rollouts-pod-template-hash` → rollouts_pod_template_hash), as the alert
rules need `service`. `{{args.…}}` is Argo Rollouts' own argument syntax, filled per run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from runs.alerts import JOB, NOT_USER_ROUTES
from runs.spec import load_spec
from scenarios.rollout.analysis import Line, Thresholds, thresholds_from_spec
from scenarios.rollout.measure import FAILED

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "tripgen"
ANALYSIS_DIR = CHART_DIR / "analysis"
WINDOW = "1m"
VERSION = 'service="{{args.service}}",rollouts_pod_template_hash="{{args.pod-hash}}"'


def _condition(line: Line, scale: float = 1.0) -> str:
    """Argo's successCondition: within the line; no series or NaN (no requests) is within."""
    op = "<" if line.strict else "<="
    limit = f"{line.limit * scale:g}"
    return f"len(result) == 0 || isNaN(result[0]) || result[0] {op} {limit}"


def _users(extra: str = "") -> str:
    return f'{{job="{JOB}",{VERSION},route!~"{NOT_USER_ROUTES}"{extra}}}'


def metrics(thresholds: Thresholds) -> list[dict[str, Any]]:
    requests = f"sum(rate(http_requests_total{_users()}[{WINDOW}]))"
    errors = f"sum(rate(http_requests_total{_users(FAILED)}[{WINDOW}]))"
    latency = (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{_users()}[{WINDOW}])))"
    )
    ai = (
        "histogram_quantile(0.95, sum by (le) "
        f'(rate(ai_generation_seconds_bucket{{job="{JOB}",{VERSION}}}[{WINDOW}])))'
    )
    found = []
    for line, query, scale in (
        (thresholds.error_rate, f"{errors}\n/ {requests}", 1.0),
        (thresholds.p95_ms, latency, 0.001),  # Prometheus histograms are in seconds
        (thresholds.ai_p95_ms, ai, 0.001),
    ):
        found.append({
            "name": line.measure.replace("_", "-"),
            "objective": line.objective,
            "successCondition": _condition(line, scale),
            "query": query,
        })  # fmt: skip
    return found


class _BlockDumper(yaml.SafeDumper):
    """Multi-line PromQL as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


_BlockDumper.add_representer(str, _str)


def render(spec_name: str) -> str:
    spec = load_spec(spec_name)
    header = (
        f"# Generated from runs/specs/{spec.profile}.yaml by "
        "`python -m scenarios.rollout.chart_analysis`; do not edit.\n"
        "# The rollout's lines (SPEC.md › deployment: roll back when the error rate > 1%) as\n"
        "# Argo Rollouts analysis metrics, one version of one service each.\n"
    )
    body = yaml.dump(
        metrics(thresholds_from_spec(spec)), Dumper=_BlockDumper, sort_keys=False, width=100
    )
    return header + body


def chart_path(spec_name: str) -> Path:
    return ANALYSIS_DIR / f"{spec_name}.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenarios.rollout.chart_analysis")
    parser.add_argument("--spec", default="prod")
    parser.add_argument("--check", action="store_true", help="only check it is in sync")
    args = parser.parse_args(argv)
    path, wanted = chart_path(args.spec), render(args.spec)
    if args.check:
        if not path.exists() or path.read_text("utf-8") != wanted:
            print(f"{path} is out of date; run: python -m scenarios.rollout.chart_analysis",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(f"{path} matches runs/specs/{args.spec}.yaml")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wanted, "utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The capacity report: `capacity.md` (+ `plots/*.png`) and a self-contained `capacity.html`
(plots embedded), in the SLA report's style — every figure says whether it was measured or
modelled."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from simulation.capacity import plots
from simulation.capacity.cluster_spec import ClusterSpec
from simulation.capacity.study import Study
from simulation.capacity.workload import Workload

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
blockquote { border-left: 4px solid #36c; background: #f1f5fd; margin: 1em 0; padding: 0.5em 1em; }
img { max-width: 100%; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


@dataclass(frozen=True)
class CapacityReport:
    markdown: Path
    html: Path
    plots: dict[str, Path]


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows), ""]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _route_cpu_note(workload: Workload) -> str:
    if workload.route_cpu_source:
        return (
            "Route CPU is each service's measured CPU shared out over its routes by mean "
            "response time (an estimate), except where the benchmark measured two or more routes "
            "of a service one at a time: those share their estimates' sum in proportion to its "
            f"CPU per request (`{workload.route_cpu_source}`)."
        )
    return (
        "Route CPU is the service's CPU apportioned by mean response time (an estimate; "
        "`nox -s bench` measures the key routes one at a time, and the model uses its latest "
        "report when there is one)."
    )


def _calibration(workload: Workload) -> list[str]:
    rows = [
        (
            r.name,
            r.service,
            f"{r.share:.1%}",
            f"{r.demand_s * 1000:.2f} ms",
            r.cpu_from,
            _ms(r.mean_ms),
            _ms(r.p95_ms),
        )
        for r in sorted(workload.routes, key=lambda r: -r.share)
    ]
    deps = ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in workload.dependency_demand_s.items())
    lines = [
        "## Calibration (measured)",
        "",
        f"From `{workload.source}`: {workload.api_rps:,.1f} API req/s from "
        f"{workload.users:,.1f} users over {workload.duration_s:,.0f} s. CPU per request of "
        f"each service: "
        + ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in workload.service_demand_s.items())
        + f"; per API request: {deps or 'not measured'}. AI: "
        f"{workload.generations_per_request:.4f} generations per request, "
        f"{workload.generation_cpu_s:.2f} CPU-s each. Cache hit ratio "
        + (f"{workload.cache_hit_ratio:.1%}" if workload.cache_hit_ratio is not None else "—")
        + ". "
        + _route_cpu_note(workload),
        "",
    ]
    header = ["Route", "Service", "Share", "CPU/request", "weighed by", "Mean", "p95"]
    return lines + _table(header, rows)


def _steady(study: Study) -> list[str]:
    lines = [
        "## Steady state: analytic model vs simulation",
        "",
        "Where both apply (a phase's constant load, after the HPA settled): the replicas the HPA "
        "settles at and the CPU utilisation of the request, from Erlang C / the HPA's fixed "
        "point and from the discrete-event simulation's judged window.",
        "",
    ]
    rows = [
        (
            spec,
            a.service,
            a.analytic_replicas,
            f"{a.simulated_replicas:.1f}",
            f"{a.analytic_utilisation:.0%}",
            f"{a.simulated_utilisation:.0%}",
        )
        for spec, items in study.agreement.items()
        for a in items
    ]
    header = [
        "Phase",
        "Service",
        "Replicas (analytic)",
        "Replicas (simulated)",
        "CPU/request (analytic)",
        "CPU/request (simulated)",
    ]
    return lines + _table(header, rows)


def _scenarios(study: Study, images: dict[str, tuple[str, str]]) -> list[str]:
    lines = ["## Scenarios (modelled)", ""]
    rows = []
    for o in study.scenarios:
        r = o.result
        rows.append(
            (
                r.name,
                f"{r.offered_rps:,.0f}",
                f"{r.throughput_rps:,.0f}",
                f"{r.error_rate:.3%}",
                _ms(r.general_p95_ms),
                _ms(r.ai_p95_ms),
                ", ".join(f"{k} {v}" for k, v in sorted(r.max_replicas.items())),
                r.max_nodes,
                "PASS" if o.passed else "FAIL",
                f"{r.wall_s:.1f} s",
            )
        )
    header = [
        "Scenario",
        "Offered req/s",
        "Served req/s",
        "Errors",
        "General p95",
        "AI p95",
        "Max replicas",
        "Max nodes",
        "SLA",
        "Wall time",
    ]
    lines += _table(header, rows)
    for o in study.scenarios:
        r = o.result
        lines += [f"### {r.name}", "", r.description + ".", ""]
        lines += _table(
            ["Objective", "Target", "Predicted", "Verdict"],
            [
                (c.objective, c.target, c.predicted, "PASS" if c.passed else "FAIL")
                for c in o.checks
            ],
        )
        worst = sorted(((v or 0.0, k) for k, v in r.route_p95_ms.items()), reverse=True)[:5]
        lines += ["Slowest routes (p95): " + ", ".join(f"{k} {_ms(v)}" for v, k in worst), ""]
        if r.breaks:
            lines += ["**Where the plan breaks:**", "", *(f"- {b}" for b in r.breaks), ""]
        for stem, (caption, url) in images.items():
            if stem.startswith(_stem(r.name)):
                lines += [f"![{caption}]({url})", ""]
    return lines


def _cost(study: Study) -> list[str]:
    lines = ["## Monthly cost (modelled, prices from `prices.yaml`)", ""]
    rows = []
    for spec, c in study.costs.items():
        lean = study.halved.get(spec)
        saving = f"${c.total - lean.total:,.0f}" if lean else "—"
        budget = (f"${c.budget_low:,.0f}–" if c.budget_low else "≤ ") + (
            f"${c.budget_high:,.0f}" if c.budget_high else "—"
        )
        rows.append(
            (
                spec,
                f"{c.app_nodes_mean:.1f}",
                f"${c.app_nodes_cost:,.0f}",
                f"${c.system_nodes_cost:,.0f}",
                f"${c.managed_cost:,.0f}",
                f"**${c.total:,.0f}**",
                budget,
                c.verdict,
                f"${c.cost_per_million_requests:,.2f}",
                saving,
            )
        )
    header = [
        "Phase",
        "App nodes (mean)",
        "App nodes",
        "System nodes",
        "Managed",
        "Total",
        "Budget (SPEC.md)",
        "Verdict",
        "$ per million requests",
        "Saved by halving CPU/request",
    ]
    lines += _table(header, rows)
    lines += [
        "A phase's month is its simulated day (the daily curve at its peak) × 30.4. Halving CPU "
        "per request reruns the same days with every service's CPU-seconds per request halved.",
        "",
    ]
    return lines


def _stem(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:40]


def render(
    study: Study,
    workload: Workload,
    cluster: ClusterSpec,
    images: dict[str, tuple[str, str]],
    validation: dict[str, Any] | None,
) -> str:
    walls = ", ".join(f"{w:.1f} s" for w in study.day_wall_s)
    lines = [
        "# TripGen capacity model — the prod topology, simulated",
        "",
        "> **Modelled, not measured.** Every figure below comes from the discrete-event "
        "simulation of the rendered prod chart, calibrated from a load run on this machine; "
        + (
            f"its validation on this machine ({validation.get('created_at', '?')}) measured "
            f"errors of {validation.get('summary', '')}."
            if validation
            else "no validation has been run on this machine (`nox -s capacity -- --validate`)."
        ),
        "",
        "## The production model (read, not restated)",
        "",
        *(f"- {line}" for line in cluster.describe()),
        "",
        f"Simulated days took {walls} of wall time each.",
        "",
        *_calibration(workload),
        *_steady(study),
        *_scenarios(study, images),
        *_cost(study),
    ]
    return "\n".join(lines)


def write_report(
    study: Study,
    workload: Workload,
    cluster: ClusterSpec,
    out_dir: Path,
    validation: dict[str, Any] | None = None,
) -> CapacityReport:
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(exist_ok=True)
    drawn: dict[str, tuple[str, bytes]] = {}
    for o in study.scenarios:
        stem = _stem(o.result.name)
        drawn[f"{stem}-load"] = (
            f"{o.result.name}: load and p95",
            plots.timeline(o.result, o.phase.general_p95_ms),
        )
        drawn[f"{stem}-capacity"] = (
            f"{o.result.name}: replicas and nodes",
            plots.capacity(o.result),
        )
    paths = {}
    for stem, (_, png) in drawn.items():
        paths[stem] = plot_dir / f"{stem}.png"
        paths[stem].write_bytes(png)
    linked = {s: (t, f"plots/{s}.png") for s, (t, _) in drawn.items()}
    embedded = {
        s: (t, "data:image/png;base64," + base64.b64encode(png).decode("ascii"))
        for s, (t, png) in drawn.items()
    }
    markdown = out_dir / "capacity.md"
    markdown.write_text(render(study, workload, cluster, linked, validation), encoding="utf-8")
    body = (
        MarkdownIt("commonmark", {"html": False})
        .enable("table")
        .render(render(study, workload, cluster, embedded, validation))
    )
    page = out_dir / "capacity.html"
    page.write_text(
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape('TripGen capacity model')}</title><style>{_CSS}</style></head>"
        f"<body>\n{body}</body></html>\n",
        encoding="utf-8",
    )
    return CapacityReport(markdown, page, paths)

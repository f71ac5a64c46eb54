"""The SLA report: `report.md` (+ `plots/*.png` beside it), a self-contained `report.html`
(the same text, plots embedded as base64 PNG) and the gate file for `deploy-aks`.

The report opens with the scale that was measured — platform, profile, users, replicas per
service, duration, load-generator processes and machine cores — and, unless the platform is a
production one, a plain sentence that a local run is not production scale, so nobody mistakes a
laptop run for evidence of 1,000 TPS.

Usage (what `scenarios.cli sla-check` does)::

    verdicts = judge(results, spec)
    paths = write_report(results, verdicts, run_dir, spec=spec,
                         results_path=run_dir / "results.json")
    # paths.markdown, paths.html, paths.gate (.tripgen/gate/<profile>.json)
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from markdown_it import MarkdownIt

from runs.results import LoadResults
from runs.spec import SlaSpec, format_value
from scenarios.sla import plots
from scenarios.sla.alerts import alerts_section
from scenarios.sla.gate import GATE_DIR, Gate, git_state, write_gate
from scenarios.sla.judge import (
    NoDataPolicy,
    Verdict,
    blocking,
    gate_passed,
    profile_mismatch,
    tally,
)

# DESIGN.md › Measured on this kind of machine: one locust process tops out near 4,000 rps.
LOCUST_PROCESS_CEILING_RPS = 4_000

# Verdicts are plain words, bold (`Verdict.mark`: PASS, FAIL, NO-DATA, MODELLED PASS…): emoji
# marks render as empty boxes where no emoji font is installed. The HTML report turns each into
# a coloured badge (`_badges`).


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    plots: dict[str, Path]
    gate: Path | None


def _cell(text: object) -> str:
    """A markdown table cell: pipes escaped, newlines flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def scale_statement(results: LoadResults, spec: SlaSpec | None = None) -> list[str]:
    """The lines that say what scale was measured and whether it is production scale."""
    replicas = (
        ", ".join(f"{name} {count}" for name, count in sorted(results.replicas.items()))
        or "not recorded"
    )
    spawn = f", spawn rate {results.spawn_rate:g}/s" if results.spawn_rate else ""
    lines = [
        f"**Scale measured:** platform `{results.platform}`, profile `{results.profile}`, "
        f"**{results.users:,} users**{spawn}, {results.actual_duration_s:,.0f} s measured "
        f"({results.duration_s:,.0f} s requested; {_when(results.started_at)} → "
        f"{_when(results.ended_at)}), replicas per service: "
        f"{replicas}; load generator: {results.load_generator_processes} locust process(es) on "
        f"a machine with **{results.machine.cores} cores** (`{results.machine.hostname}`, "
        f"{results.machine.system}).",
        "",
    ]
    per_process = results.totals.rps / max(results.load_generator_processes, 1)
    if per_process >= LOCUST_PROCESS_CEILING_RPS * 0.75:
        lines += [
            f"**Load generator near its limit:** {per_process:,.0f} requests/s per locust "
            f"process; one process tops out near {LOCUST_PROCESS_CEILING_RPS:,} requests/s on "
            "this kind of machine (DESIGN.md), so throughput may be bounded by locust, not the "
            "services — use more locust processes.",
            "",
        ]
    if results.production_scale:
        lines.append(f"This run was measured on the production platform `{results.platform}`.")
    else:
        target = ""
        if spec is not None and spec.concurrent_users is not None:
            share = results.users / spec.concurrent_users.value
            # Enough digits to show how small a laptop's share is (0.010%), none when it is not.
            shown = f"{share:.0%}" if share >= 0.01 else f"{share:.3%}"
            target = (
                f" SPEC.md targets {spec.concurrent_users.value:,} concurrent users for "
                f"`{spec.profile}`; this run used {results.users:,} ({shown})."
            )
        lines.append(
            f"> **This `{results.platform}` run is a laptop/local simulation, not production "
            "scale.** The services, load generator and backing stores share "
            f"{results.machine.cores} cores.{target} Latency, errors, availability and "
            "recovery behaviour at this load are meaningful; absolute throughput and "
            "capacity are not — `nox -s capacity` extrapolates them to the production topology."
        )
    return [*lines, ""]


_POLICY_TEXT = {
    NoDataPolicy.FAIL: "NO-DATA and MODELLED verdicts keep the gate closed",
    NoDataPolicy.ALLOW: "NO-DATA allowed",
    NoDataPolicy.MODEL: "NO-DATA keeps the gate closed; a MODELLED PASS of a capacity "
    "simulation validated within its error goals may open it",
}


def _basis_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """Which verdicts were measured on this run and which the capacity simulation modelled."""
    modelled = [v for v in verdicts if v.modelled is not None]
    if not modelled:
        return ["Every verdict below was measured on this run (none modelled).", ""]
    measured = len(verdicts) - len(modelled)
    names = "; ".join(
        f"`{v.objective_id}` ({v.mark}, validation errors {v.modelled.validation_errors}"
        + ("" if v.modelled.trusted else ", error goals MISSED")
        + ")"
        for v in modelled
        if v.modelled is not None
    )
    return [
        f"**Measured vs modelled:** {measured} verdict(s) measured on this run; modelled by "
        f"the capacity simulation, not measured: {names}.",
        "",
    ]


def _verdict_section(verdicts: Sequence[Verdict], passed: bool, policy: NoDataPolicy) -> list[str]:
    counts = tally(verdicts)
    state = "**PASSED** (gate open)" if passed else "**NOT PASSED** (gate closed)"
    lines = [
        "## Verdict",
        "",
        f"{state}: gating objectives {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
        f"{counts['NO-DATA']} NO-DATA (NO-DATA policy `{policy.value}`: "
        + _POLICY_TEXT[policy]
        + ").",
        "",
        *_basis_lines(verdicts),
    ]
    rows = [
        (
            v.objective_id + ("" if v.gating else " (goal, not gating)"),
            v.target,
            v.measured_text,
            f"**{v.mark}**",
            v.reason,
            v.source,
        )
        for v in verdicts
    ]
    return lines + _table(["Objective", "Target", "Measured", "Verdict", "Reason", "Source"], rows)


def _chaos_section(results: LoadResults) -> list[str]:
    if not results.chaos_events:
        return []
    rows = [
        (
            e.name,
            _when(e.started_at),
            _when(e.ended_at) if e.ended_at else "—",
            _when(e.recovered_at) if e.recovered_at else "not recovered",
            format_value("recovery_s", e.recovery_s) if e.recovery_s is not None else "—",
            ", ".join(f"{k}={v}" for k, v in e.details.items()),
        )
        for e in results.chaos_events
    ]
    header = ["Event", "Started", "Ended", "Recovered", "Recovery", "Details"]
    return ["## Chaos events", "", *_table(header, rows)]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _endpoint_section(results: LoadResults) -> list[str]:
    rows = [
        (
            e.method,
            e.name,
            f"{e.requests:,}",
            f"{e.failures:,}",
            _ms(e.p50_ms),
            _ms(e.p90_ms),
            _ms(e.p95_ms),
            _ms(e.p99_ms),
            _ms(e.mean_ms),
            f"{e.rps:,.1f}",
        )
        for e in [*results.endpoints, results.totals]
    ]
    header = [
        "Type",
        "Name",
        "Requests",
        "Failures",
        "p50 ms",
        "p90 ms",
        "p95 ms",
        "p99 ms",
        "mean ms",
        "req/s",
    ]
    return ["## Endpoints (locust)", "", *_table(header, rows)]


def _custom_section(results: LoadResults) -> list[str]:
    if not results.custom_metrics:
        return []
    rows = []
    for metric in results.custom_metrics.values():
        s = metric.summary
        rows.append(
            (
                metric.name,
                metric.unit,
                s.count,
                s.failed,
                s.refused,
                *(f"{v:,.3g}" if v is not None else "—" for v in (s.p50, s.p95, s.p99, s.mean)),
            )
        )
    header = ["Metric", "Unit", "Samples", "Failed", "Refused", "p50", "p95", "p99", "mean"]
    return ["## Custom metrics", "", *_table(header, rows)]


def _harness_section(results: LoadResults) -> list[str]:
    lines = ["## Run", ""]
    if results.host:
        lines.append(f"- Target: `{results.host}`")
    for kind, name in sorted(results.artifacts.items()):
        lines.append(f"- {kind}: `{name}`")
    for note in results.notes:
        lines.append(f"- Note: {note}")
    if results.exceptions:
        total = sum(x.count for x in results.exceptions)
        lines.append(
            f"- **Harness errors:** the locustfile raised {total} exception(s): "
            + "; ".join(f"{x.count}× {x.message}" for x in results.exceptions)
        )
    return [*lines, ""]


def render_markdown(
    results: LoadResults,
    verdicts: Sequence[Verdict],
    images: dict[str, tuple[str, str]],
    *,
    spec: SlaSpec | None = None,
    passed: bool,
    policy: NoDataPolicy,
    alerts: Sequence[str] = (),
) -> str:
    """The report as markdown; `images` maps plot stem → (title, image URL); `alerts` the
    lines of the alert section (scenarios.sla.alerts)."""
    heading = f"# TripGen SLA report — profile `{results.profile}` on `{results.platform}`"
    if spec is not None:
        heading += f", judged against `{spec.profile}` ({spec.title})"
    mismatch = profile_mismatch(results, spec) if spec is not None else None
    lines = [
        heading,
        "",
        *scale_statement(results, spec),
        *([f"> **Warning:** {mismatch}.", ""] if mismatch else []),
        *_verdict_section(verdicts, passed, policy),
        *_chaos_section(results),
        *alerts,
        "## Plots",
        "",
    ]
    if results.chaos_events:
        lines += ["Shaded red: chaos windows (injection → recovery).", ""]
    for _, (caption, url) in images.items():
        lines += [f"### {caption}", "", f"![{caption}]({url})", ""]
    if not images:
        lines += [
            "No time series, probes or samples were recorded, so there is nothing to plot.",
            "",
        ]
    lines += [*_endpoint_section(results), *_custom_section(results), *_harness_section(results)]
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
blockquote { border-left: 4px solid #d33; background: #fff4f4; margin: 1em 0; padding: 0.5em 1em; }
img { max-width: 100%; }
code { background: #f3f3f3; padding: 0 0.2em; }
.verdict { display: inline-block; padding: 0.05em 0.5em; border-radius: 0.6em; font-weight: 600;
           white-space: nowrap; border: 1px solid; }
.verdict-pass { color: #0a5d1e; background: #e3f6e8; border-color: #7cc08f; }
.verdict-fail { color: #8a1111; background: #fde7e7; border-color: #e08a8a; }
.verdict-no-data { color: #6b4e00; background: #fff4d6; border-color: #e1c06b; }
.verdict-modelled { color: #17407a; background: #e6effb; border-color: #86a9dc; }
"""
_VERDICT_CELL = re.compile(r"<td><strong>([A-Z][A-Z-]*(?: [A-Z][A-Z-]*)*)</strong></td>")


def _badges(body: str) -> str:
    """A verdict cell (a bold upper-case word) becomes a badge styled by its class."""

    def badge(match: re.Match[str]) -> str:
        word = match.group(1)
        css = "verdict-" + word.split()[0].lower()
        return f'<td><span class="verdict {css}">{word}</span></td>'

    return _VERDICT_CELL.sub(badge, body)


def render_html(markdown_text: str, title: str) -> str:
    # html=False: endpoint names and error messages are data, never markup.
    body = _badges(MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text))
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>\n{body}</body></html>\n"
    )


def write_report(
    results: LoadResults,
    verdicts: Sequence[Verdict],
    out_dir: Path,
    *,
    spec: SlaSpec | None = None,
    results_path: Path | None = None,
    policy: NoDataPolicy = NoDataPolicy.FAIL,
    gate_root: Path | None = GATE_DIR,
) -> ReportPaths:
    """Write report.md, plots/*.png, report.html into `out_dir`, and the gate file.

    `gate_root=None` skips the gate (e.g. a report of a run that is not an sla-check).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(exist_ok=True)
    targets: dict[str, float] = {}
    if spec is not None:
        for objective in spec.objectives:
            # The first gating objective per metric sets the plotted target line.
            if objective.gating and objective.window_s is None:
                targets.setdefault(objective.metric, objective.threshold)
    drawn = plots.all_plots(results, targets)
    plot_paths: dict[str, Path] = {}
    for stem, (_, png) in drawn.items():
        plot_paths[stem] = plot_dir / f"{stem}.png"
        plot_paths[stem].write_bytes(png)

    passed = gate_passed(verdicts, policy)
    alert_lines = alerts_section(out_dir, verdicts, spec)
    linked = {stem: (title, f"plots/{stem}.png") for stem, (title, _) in drawn.items()}
    embedded = {
        stem: (title, "data:image/png;base64," + base64.b64encode(png).decode("ascii"))
        for stem, (title, png) in drawn.items()
    }
    markdown_path = out_dir / "report.md"
    markdown_path.write_text(
        render_markdown(
            results, verdicts, linked, spec=spec, passed=passed, policy=policy, alerts=alert_lines
        ),
        encoding="utf-8",
    )
    html_path = out_dir / "report.html"
    title = f"TripGen SLA report — {results.profile} on {results.platform}"
    html_path.write_text(
        render_html(
            render_markdown(
                results,
                verdicts,
                embedded,
                spec=spec,
                passed=passed,
                policy=policy,
                alerts=alert_lines,
            ),
            title,
        ),
        encoding="utf-8",
    )

    gate_file = None
    if gate_root is not None:
        gate = _gate(results, verdicts, spec, policy, (markdown_path, html_path, results_path))
        gate_file = write_gate(gate, gate_root)
    return ReportPaths(markdown=markdown_path, html=html_path, plots=plot_paths, gate=gate_file)


def _gate(
    results: LoadResults,
    verdicts: Sequence[Verdict],
    spec: SlaSpec | None,
    policy: NoDataPolicy,
    paths: tuple[Path, Path, Path | None],
) -> Gate:
    """The gate record of this report: decision, counts, what closed it, what was modelled."""
    markdown_path, html_path, results_path = paths
    commit, dirty = git_state()
    return Gate(
        profile=spec.profile if spec is not None else results.profile,
        passed=gate_passed(verdicts, policy),
        report=str(markdown_path.resolve()),
        report_html=str(html_path.resolve()),
        results=str(results_path.resolve()) if results_path else "",
        git_commit=commit,
        git_dirty=dirty,
        platform=results.platform,
        no_data_policy=policy.value,
        counts=tally(verdicts),
        blocking=[v.objective_id for v in blocking(verdicts, policy)],
        modelled=[v.objective_id for v in verdicts if v.gating and v.modelled],
    )

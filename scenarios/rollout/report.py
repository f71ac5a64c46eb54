"""The rollout report, `report.md` + `report.html` in the run folder, in the sla-check report's
style (its table and HTML helpers): the decision and how long it took, the steps with their
times and what Prometheus measured per version, the traffic and the errors users saw per
version, and the lines the steps were judged against (from the SLA spec).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scenarios.rollout.analysis import Measured
from scenarios.rollout.outcome import RolloutOutcome, percent_served
from scenarios.sla.report import _table, render_html

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
SUMMARY_JSON = "summary.json"


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")[:-3]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _measured(m: Measured | None) -> str:
    if m is None:
        return "—"
    return f"{m.requests:.0f} req, {m.errors:.0f} 5xx ({m.error_rate:.2%}), p95 {_ms(m.p95_ms)}"


def summary_lines(outcome: RolloutOutcome) -> list[str]:
    """The figures the command prints and the report opens with."""
    took = outcome.finished - outcome.started
    word = "PASS" if outcome.ok else "ROLLED BACK"
    lines = [
        f"decision: {outcome.decision.upper()} — {outcome.reason}",
        f"strategy {outcome.strategy}, services {', '.join(outcome.services)}, version "
        f"{outcome.version}" + (f" ({outcome.commit[:12]})" if outcome.commit else ""),
        f"took {took:.1f} s (release prepared in {outcome.prepare_s:.1f} s, its replicas ready "
        f"in {outcome.ready_s:.1f} s)",
    ]
    for t in outcome.traffic():
        lines.append(
            f"users, {t.track} ({t.version}): {t.failed} failed of {t.requests} "
            f"({t.failed_share:.2%}); {t.limited} rate-limited"
        )
    total = len(outcome.answers)
    share = outcome.failed / total if total else 0.0
    retried = sum(1 for a in outcome.answers if a.retried)
    lines.append(
        f"users, all: {outcome.failed} failed of {total} ({share:.2%}); {retried} sent again "
        "after a reload closed their idle keep-alive connection"
    )
    if outcome.breach_at is not None and outcome.rollback is not None:
        applied = outcome.rollback.applied - outcome.breach_at
        lines.append(
            f"breach → traffic off the new version: {applied:.2f} s (nginx reloaded); "
            + (
                f"→ full rollback {outcome.breach_to_rollback_s:.2f} s (old workers drained)"
                if outcome.breach_to_rollback_s is not None
                else "old workers still draining at the timeout"
            )
        )
    lines.append(f"[{word}]")
    return lines


def _steps_section(outcome: RolloutOutcome) -> list[str]:
    new = next((t for t in outcome.tracks if t != "stable"), "new")
    rows = []
    for step in outcome.steps:
        shares = percent_served(outcome, step)
        served = ", ".join(f"{t} {v:.0%}" for t, v in sorted(shares.items())) or "—"
        rows.append([
            step.label, _clock(step.started), f"{step.ended - step.started:.1f} s", served,
            _measured(step.measured.get(new)), _measured(step.measured.get("stable")),
            f"**{step.result.upper()}**",
        ])  # fmt: skip
    header = ["step", "applied (UTC)", "held", "users' answers by version",
              f"{new} (Prometheus)", "stable (Prometheus)", "result"]  # fmt: skip
    return ["## Steps", "", *_table(header, rows)]


def _users_section(outcome: RolloutOutcome) -> list[str]:
    rows = [
        [t.track, t.version, t.requests, t.failed, f"{t.failed_share:.2%}", t.limited]
        for t in outcome.traffic()
    ]
    lines = ["## Errors users saw, per version", ""]
    lines += _table(["served by", "version", "requests", "failed", "failed share", "429"], rows)
    failures: dict[str, int] = {}
    for a in outcome.answers:
        if not a.ok:
            key = f"{outcome.track_of(a)}: {a.route} → {a.status or a.error}"
            failures[key] = failures.get(key, 0) + 1
    if failures:
        lines += _table(["failure", "count"], sorted(failures.items()))
    return lines


def _decision_section(outcome: RolloutOutcome) -> list[str]:
    lines = ["## Decision", "", f"**{outcome.decision}** — {outcome.reason}", ""]
    if outcome.breach_at is not None and outcome.rollback is not None:
        new = next((t for t in outcome.tracks if t != "stable"), "new")
        first = outcome.first_failure_of(new)
        last = outcome.last_answer_of(new)
        rows = [
            ["first failed request of the new version", _clock(first) if first else "—"],
            ["breach called", _clock(outcome.breach_at)],
            ["nginx serving the old version only", _clock(outcome.rollback.applied)],
            ["old nginx workers drained (full rollback)",
             _clock(outcome.rollback.drained) if outcome.rollback.drained else "—"],
            ["last answer a user got from the new version", _clock(last) if last else "—"],
        ]  # fmt: skip
        lines += _table(["moment", "UTC"], rows)
    return lines


def _lines_section(outcome: RolloutOutcome) -> list[str]:
    rows = [
        [line.measure, line.describe(), line.objective, line.source]
        for line in outcome.thresholds.lines
    ]
    return [
        "## Lines the steps were judged against",
        "",
        f"From the SLA spec (the same objectives as the judge and the alert rules); a step is "
        f"conclusive after {outcome.thresholds.min_requests} requests to the new version.",
        "",
        *_table(["measure", "line", "objective", "source"], rows),
    ]


def render_markdown(outcome: RolloutOutcome) -> str:
    lines = [
        f"# Rollout: {outcome.strategy} of {', '.join(outcome.services)} to {outcome.version}",
        "",
        f"Measured on the local platform, {_clock(outcome.started)} UTC"
        + (f"; command `{outcome.command}`" if outcome.command else ""),
        "",
        *(f"- {line}" for line in summary_lines(outcome)),
        "",
        *_decision_section(outcome),
        *_steps_section(outcome),
        *_users_section(outcome),
        *_lines_section(outcome),
    ]
    return "\n".join(lines) + "\n"


def summary(outcome: RolloutOutcome) -> dict[str, Any]:
    """The figures as data (`summary.json`), for scripts and tests."""
    new = next((t for t in outcome.tracks if t != "stable"), "new")
    first = outcome.first_failure_of(new)
    drained = outcome.rollback.drained if outcome.rollback else None
    return {
        "strategy": outcome.strategy,
        "services": outcome.services,
        "version": outcome.version,
        "commit": outcome.commit,
        "decision": outcome.decision,
        "reason": outcome.reason,
        "took_s": outcome.finished - outcome.started,
        "steps": [
            {"step": s.label, "result": s.result, "held_s": s.ended - s.started}
            for s in outcome.steps
        ],
        "users": {
            t.track: {
                "version": t.version,
                "requests": t.requests,
                "failed": t.failed,
                "rate_limited": t.limited,
            }
            for t in outcome.traffic()
        },
        "requests": len(outcome.answers),
        "failed": outcome.failed,
        "retried": sum(1 for a in outcome.answers if a.retried),
        "breach_to_rollback_s": outcome.breach_to_rollback_s,
        "first_failure_to_rollback_s": (drained - first) if first and drained else None,
    }


def write_report(outcome: RolloutOutcome, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY_JSON).write_text(json.dumps(summary(outcome), indent=2), "utf-8")
    text = render_markdown(outcome)
    md = out_dir / REPORT_MD
    md.write_text(text, "utf-8")
    page = out_dir / REPORT_HTML
    page.write_text(render_html(text, f"Rollout {outcome.strategy} {outcome.version}"), "utf-8")
    return md, page

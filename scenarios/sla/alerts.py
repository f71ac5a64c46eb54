"""Which SLA alerts fired during a run, read from the deployment's Prometheus (`ALERTS`, the
series Prometheus keeps for every pending or firing alert), and how they compare with the judge.

The rules are generated from the same SLA spec the judge reads (`runs.alerts`), so an alert
that watches a judged objective (`objective:` in the spec) should fire exactly when the judge
fails that objective. They can still disagree, and the report says so: the judge reads what
clients saw through the front door, the rules read what the replicas counted (a request nginx
answered 502 itself never reaches a replica), and a run shorter than a rule's window or `for`
cannot fire it.

    record_alerts(folder, prometheus_url, started, ended)   # → folder/alerts.json
    alerts_section(folder, verdicts, spec)                    # markdown lines for the report
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runs.spec import SlaSpec
from simulation.backing.prometheus import PrometheusError, query_range

ALERTS_FILE = "alerts.json"
STEP_S = 1.0


@dataclass(frozen=True)
class AlertSeen:
    """One alert (one label set) that was pending or firing during the window."""

    alert: str
    labels: dict[str, str]
    state: str  # "firing" when it ever fired, else "pending"
    first_pending: str | None  # ISO times
    first_firing: str | None
    last_seen: str


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def alerts_during(
    prometheus_url: str, started: datetime, ended: datetime, step_s: float = STEP_S
) -> list[AlertSeen]:
    """Every alert pending or firing in [started, ended] (raises `PrometheusError`)."""
    series = query_range(
        prometheus_url, "ALERTS", started.timestamp(), ended.timestamp(), step_s=step_s
    )
    merged: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for item in series:
        metric = dict(item["metric"])
        name = metric.pop("alertname", "?")
        state = metric.pop("alertstate", "?")
        metric.pop("__name__", None)
        times = [float(t) for t, _ in item.get("values", [])]
        if not times:
            continue
        entry = merged.setdefault(
            (name, tuple(sorted(metric.items()))),
            {"labels": metric, "pending": None, "firing": None, "last": times[-1]},
        )
        first = min(times)
        if entry[state] is None or first < entry[state]:
            entry[state] = first
        entry["last"] = max(entry["last"], times[-1])
    found = [
        AlertSeen(
            alert=name,
            labels=entry["labels"],
            state="firing" if entry["firing"] is not None else "pending",
            first_pending=_iso(entry["pending"]) if entry["pending"] is not None else None,
            first_firing=_iso(entry["firing"]) if entry["firing"] is not None else None,
            last_seen=_iso(entry["last"]),
        )
        for (name, _), entry in merged.items()
    ]
    return sorted(found, key=lambda a: (a.first_pending or a.first_firing or "", a.alert))


@dataclass
class AlertRecord:
    prometheus: str
    started: str
    ended: str
    alerts: list[AlertSeen] = field(default_factory=list)
    error: str | None = None  # Prometheus could not be read: the report says so


def record_alerts(
    folder: Path, prometheus_url: str | None, started: datetime, ended: datetime
) -> AlertRecord:
    """Read the run's alerts and write `folder/alerts.json`."""
    record = AlertRecord(prometheus_url or "", started.isoformat(), ended.isoformat())
    if not prometheus_url:
        record.error = "the deployment has no Prometheus (dev without --monitoring)"
    else:
        try:
            record.alerts = alerts_during(prometheus_url, started, ended)
        except PrometheusError as exc:
            record.error = str(exc)
    (folder / ALERTS_FILE).write_text(json.dumps(asdict(record), indent=2), "utf-8")
    return record


def load_record(folder: Path) -> AlertRecord | None:
    path = folder / ALERTS_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text("utf-8"))
    alerts = [AlertSeen(**a) for a in raw.pop("alerts", [])]
    return AlertRecord(alerts=alerts, **raw)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(iso: str | None) -> str:
    return iso[11:19] if iso else "—"


_WHERE_LABELS = ("service", "server", "replica")


def _outcome(verdict: Any) -> str:
    outcome = getattr(verdict, "outcome", None)
    return str(getattr(outcome, "value", outcome)) if outcome is not None else "—"


def agreement(fired: bool, verdict: Any) -> tuple[str, bool]:
    """How the alert and the judge's verdict on the watched objective compare, and whether
    that is a disagreement."""
    outcome = _outcome(verdict)
    if verdict is None:
        return "", False
    if outcome == "NO-DATA":
        return "judge had no data", False
    if (outcome == "FAIL") == fired:
        return "agree", False
    if fired:
        return "**DISAGREE**: the alert fired, the judge passed", True
    return "**DISAGREE**: the judge failed it, no alert fired", True


def alerts_section(folder: Path, verdicts: Sequence[Any], spec: SlaSpec | None) -> list[str]:
    """The report's alert section: every spec alert, what Prometheus did with it during the
    run, and, for an alert watching a judged objective, whether the judge agrees."""
    record = load_record(folder)
    if record is None or spec is None or not spec.alerts:
        return []
    lines = ["## Alerts (Prometheus, rules generated from the same spec)", ""]
    if record.error:
        return [*lines, f"> **Alerts could not be read:** {_cell(record.error)}", ""]
    judged = {v.objective_id: v for v in verdicts if getattr(v, "scope", "run") == "run"}
    lines += [
        "| alert | SPEC | during the run | first seen | judge's objective | judge | |",
        "|---|---|---|---|---|---|---|",
    ]
    disagreements = 0
    for alert in spec.alerts:
        seen = [a for a in record.alerts if a.alert == alert.alert]
        fired = any(a.state == "firing" for a in seen)
        state = "firing" if fired else ("pending" if seen else "quiet")
        where = ", ".join(
            "/".join(v for k, v in sorted(a.labels.items()) if k in _WHERE_LABELS) for a in seen
        )
        first = min((a.first_firing or a.first_pending or "" for a in seen), default=None)
        verdict = judged.get(alert.objective or "")
        compared, disagrees = agreement(fired, verdict)
        disagreements += disagrees
        lines.append(
            f"| `{alert.alert}` | {_cell(alert.source.split(': ', 1)[-1])} | "
            f"{state}{f' ({_cell(where)})' if where else ''} | {_short(first)} | "
            f"{alert.objective or '—'} | {_outcome(verdict)} | {compared} |"
        )
    lines += [
        "",
        f"Read from {record.prometheus} over {record.started[11:19]} → {record.ended[11:19]} "
        f"UTC. {disagreements} disagreement(s) between an alert and the judge. The judge reads "
        "what clients saw through the front door; the rules read what the replicas counted, "
        "so a request nginx failed by itself is the judge's alone.",
        "",
    ]
    return lines

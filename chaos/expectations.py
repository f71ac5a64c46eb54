"""What an experiment declares beyond its hypothesis (its `tripgen` extension), checked after
it ran:

    "injects": ["zone-outage/*"]          chaos events that prove the fault happened; none → the
                                          experiment failed ("fault not injected"), whatever the
                                          hypothesis says
    "alerts": {"fire": ["availability"],  SLA alerts (ids of runs/specs/<sla>.yaml `alerts:`) that
               "quiet": ["error-rate"]}   must fire during it, and that must not start

Alerts are read from the deployment's Prometheus (`ALERTS`). An alert already pending or firing
when the experiment began (an earlier fault still inside a 5-minute window) is not charged to
this one. Where the deployment has no Prometheus the check is reported as not made.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runs.results import ChaosEvent
from runs.spec import load_spec
from scenarios.sla.alerts import AlertSeen, alerts_during
from simulation.backing.prometheus import PrometheusError

# Rules evaluate every 2 s and the scrape is 2 s: an alert whose condition held at the end of
# the experiment shows within this long.
SETTLE_S = 5.0
LOOKBACK = timedelta(minutes=10)


def missing_injections(declared: Sequence[str], events: Sequence[ChaosEvent]) -> list[str]:
    """The declared event globs no recorded event matches."""
    return [
        pattern
        for pattern in declared
        if not any(fnmatch.fnmatchcase(e.name, pattern) for e in events)
    ]


@dataclass
class AlertCheck:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _key(alert: AlertSeen) -> tuple[str, tuple[tuple[str, str], ...]]:
    return alert.alert, tuple(sorted(alert.labels.items()))


def _where(alert: AlertSeen) -> str:
    return ",".join(alert.labels[k] for k in ("service", "server") if k in alert.labels)


def _began_at_or_after(alert: AlertSeen, started: datetime) -> bool:
    first = alert.first_pending or alert.first_firing
    return first is not None and datetime.fromisoformat(first) >= started


def check_alerts(
    expectation: dict[str, Any],
    *,
    sla: str,
    prometheus_url: str | None,
    started: datetime,
    ended: datetime,
    settle_s: float = SETTLE_S,
) -> AlertCheck:
    """Compare the alerts of [started, ended + settle] with `expectation`."""
    check = AlertCheck()
    fire, quiet = list(expectation.get("fire", [])), list(expectation.get("quiet", []))
    if not fire and not quiet:
        return check
    if not prometheus_url:
        check.notes.append("alerts not checked: the deployment runs no Prometheus")
        return check
    names = {a.id: a.alert for a in load_spec(sla).alerts}
    unknown = [a for a in [*fire, *quiet] if a not in names]
    if unknown:
        check.problems.append(f"the experiment names unknown alerts {unknown} (spec {sla})")
        return check
    time.sleep(settle_s)
    try:
        until = ended + timedelta(seconds=settle_s)
        seen = alerts_during(prometheus_url, started - LOOKBACK, until)
    except PrometheusError as exc:
        check.problems.append(f"alerts could not be read: {exc}")
        return check
    # One contiguous activity per label set is all `alerts_during` keeps; an alert that was
    # already active before the experiment began is the previous fault's.
    new = [a for a in seen if _began_at_or_after(a, started)]
    inherited = {_key(a) for a in seen if not _began_at_or_after(a, started)}
    for alert_id in fire:
        hits = [a for a in seen if a.alert == names[alert_id]]
        if not hits:
            check.problems.append(f"alert {alert_id} ({names[alert_id]}) should fire; it did not")
        else:
            states = ", ".join(f"{a.state} {_where(a)}" for a in hits)
            was = " (already active before)" if all(_key(a) in inherited for a in hits) else ""
            check.notes.append(f"alert {alert_id} fired as expected: {states}{was}")
    for alert_id in quiet:
        hits = [a for a in new if a.alert == names[alert_id]]
        for a in hits:
            check.problems.append(
                f"alert {alert_id} ({names[alert_id]}) went {a.state} for {a.labels}; "
                "the experiment says this fault must not raise it"
            )
        if not hits:
            check.notes.append(f"alert {alert_id} stayed quiet as expected")
    return check

"""promtool unit tests for the rules `runs.alerts` renders: for every alert of a spec, input
series that must make it fire (with exactly these labels and annotations) and series that must
not, both derived from the alert's own threshold, window and duration — so a changed line in the
spec is tested at its new value, and a rule that stops matching its series fails CI.

    python -m runs.alert_tests --spec prod --out DIR   # DIR/rules.yml + DIR/tests.yml
    promtool test rules DIR/tests.yml
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runs.alerting import AlertRule
from runs.alerts import (
    JOB,
    Condition,
    Limits,
    alert_annotations,
    alert_labels,
    chart_limits,
    condition,
    render_rules,
)
from runs.spec import SlaSpec, load_spec

RULES_FILE = "rules.yml"
TESTS_FILE = "tests.yml"
EVALUATION_INTERVAL_S = 30


@dataclass
class Case:
    """Series fed to promtool and the label sets (beyond the rule's own) expected to fire."""

    series: list[dict[str, str]]
    fires: list[dict[str, str]]
    interval_s: int = 60
    samples: int = 0


@dataclass
class AlertCases:
    firing: Case
    quiet: Case
    eval_s: int
    notes: list[str] = field(default_factory=list)


def _selector(name: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{name}{{{inner}}}"


def _series(name: str, labels: Mapping[str, str], values: str) -> dict[str, str]:
    return {"series": _selector(name, labels), "values": values}


def _replica(service: str) -> dict[str, str]:
    return {"job": JOB, "service": service, "zone": "zone-1", "replica": f"{service}-1"}


def _requests(
    service: str, per_min: float, status: str, samples: int, route: str
) -> dict[str, str]:
    labels = {**_replica(service), "route": route, "method": "GET", "status": status}
    return _series("http_requests_total", labels, f"0+{per_min:g}x{samples}")


def _above(when: Condition, scale: float = 1.0) -> tuple[float, float]:
    """A value clearly past an upper line and one clearly within it (both × `scale`)."""
    if when.comparator not in (">", ">="):
        raise ValueError(f"no test case for a {when.comparator!r} line on this signal")
    return (when.threshold + (1 - when.threshold) / 2) * scale, when.threshold / 2 * scale


def availability_cases(when: Condition, samples: int) -> tuple[Case, Case]:
    if when.comparator not in ("<", "<="):
        raise ValueError("availability alerts fire below their line")
    total = 1000.0
    errors = max(1.0, math.ceil(2 * (1 - when.threshold) * total))
    route = "/api/locations/cities"
    firing = Case(
        [
            _requests("location", total, "200", samples, route),
            _requests("location", errors, "500", samples, route),
            _series("up", {**_replica("location"), "instance": "l"}, f"1x{samples}"),
            # A service with no replica up has no request rate at all: the `up` clause fires.
            _series("up", {**_replica("ai"), "instance": "a"}, f"0x{samples}"),
        ],
        [{"service": "location"}, {"service": "ai"}],
    )
    quiet = Case(
        [
            _requests("user", total, "200", samples, "/api/users/me"),
            # Failing readiness probes are not users' requests.
            _requests("user", total, "503", samples, "/actuator/health/readiness"),
            _series("up", {**_replica("user"), "instance": "u"}, f"1x{samples}"),
        ],
        [],
    )
    return firing, quiet


def error_rate_cases(when: Condition, samples: int) -> tuple[Case, Case]:
    high, low = _above(when)
    total, route = 1000.0, "/api/trips"

    def case(rate: float, fires: list[dict[str, str]]) -> Case:
        errors = rate * total / (1 - rate)
        return Case(
            [
                _requests("trip", total, "201", samples, route),
                _requests("trip", errors, "503", samples, route),
            ],
            fires,
        )

    return case(high, [{}]), case(low, [])


def ai_response_cases(when: Condition, samples: int) -> tuple[Case, Case]:
    high, low = _above(when)
    line = when.threshold

    def case(upper: float, fires: list[dict[str, str]]) -> Case:
        # Every observation between `below` and `upper`: p95 interpolates to near `upper`.
        below = upper / 4
        buckets = {f"{below:g}": 0, f"{upper:g}": 10, "+Inf": 10}
        return Case(
            [
                _series(
                    "ai_generation_seconds_bucket",
                    {**_replica("ai"), "source": "planner", "le": le},
                    f"0+{per_min}x{samples}",
                )
                for le, per_min in buckets.items()
            ],
            fires,
        )

    return case(max(high, line) * 2, [{}]), case(low, [])


def restart_cases(when: Condition, window_s: float) -> tuple[Case, Case]:
    _above(when)
    changes = int(when.threshold) * 2 + 4
    interval = max(1, int(window_s // changes))
    steady = 3 * changes
    replica = {**_replica("trip"), "instance": "t"}
    restarting = " ".join(str(1000 + i) for i in range(steady))
    once = f"1000x{steady // 2} 2000x{steady - steady // 2 - 1}"
    firing = Case([_series("process_start_time_seconds", replica, restarting)], [replica])
    quiet = Case([_series("process_start_time_seconds", replica, once)], [])
    firing.interval_s = quiet.interval_s = interval
    firing.samples = quiet.samples = steady
    return firing, quiet


def usage_cases(
    alert: AlertRule, when: Condition, limits: Mapping[str, Limits], samples: int
) -> tuple[Case, Case]:
    service = "trip"
    replica = _replica(service)
    expected = {k: replica[k] for k in ("service", "zone", "replica")}
    if alert.signal == "cpu":
        high, low = _above(when, limits[service].cpu_cores * 60)  # CPU seconds per minute
        name, values = (
            "process_cpu_seconds_total",
            (f"0+{high:g}x{samples}", f"0+{low:g}x{samples}"),
        )
    else:
        high, low = _above(when, limits[service].memory_bytes)
        name, values = (
            "process_resident_memory_bytes",
            (f"{high:.0f}x{samples}", f"{low:.0f}x{samples}"),
        )
    return (
        Case([_series(name, replica, values[0])], [expected]),
        Case([_series(name, replica, values[1])], []),
    )


def connection_cases(when: Condition, samples: int) -> tuple[Case, Case]:
    high, low = _above(when, 200)
    server = {"server": "127.0.0.1:5432"}

    def case(used: float, fires: list[dict[str, str]]) -> Case:
        active = math.ceil(used)
        return Case(
            [
                _series(
                    "pg_stat_activity_count",
                    {"datname": "tripgen", "state": "active", **server},
                    f"{active - active // 3}x{samples}",
                ),
                _series(
                    "pg_stat_activity_count",
                    {"datname": "tripgen", "state": "idle", **server},
                    f"{active // 3}x{samples}",
                ),
                _series("pg_settings_max_connections", server, f"200x{samples}"),
            ],
            fires,
        )

    return case(high, [server]), case(low, [])


def cases_for(alert: AlertRule, spec: SlaSpec, limits: Mapping[str, Limits]) -> AlertCases:
    when = condition(alert, spec)
    window_s = when.window_s or 120
    eval_s = int(window_s + when.for_s + 120)
    samples = eval_s // 60 + 5
    if alert.signal == "availability":
        firing, quiet = availability_cases(when, samples)
    elif alert.signal == "error_rate":
        firing, quiet = error_rate_cases(when, samples)
    elif alert.signal == "ai_response_p95":
        firing, quiet = ai_response_cases(when, samples)
    elif alert.signal == "restarts":
        firing, quiet = restart_cases(when, window_s)
        eval_s = firing.interval_s * (firing.samples - 1)
    elif alert.signal in ("cpu", "memory"):
        firing, quiet = usage_cases(alert, when, limits, samples)
    else:
        firing, quiet = connection_cases(when, samples)
    return AlertCases(firing, quiet, eval_s)


def _test(alert: AlertRule, spec: SlaSpec, case: Case, eval_s: int) -> dict[str, Any]:
    expected = [
        {
            "exp_labels": {**fired, **alert_labels(alert, spec)},
            "exp_annotations": alert_annotations(alert, spec),
        }
        for fired in case.fires
    ]
    return {
        "interval": f"{case.interval_s}s",
        "input_series": case.series,
        "alert_rule_test": [
            {"eval_time": f"{eval_s}s", "alertname": alert.alert, "exp_alerts": expected}
        ],
    }


def rule_tests(spec: SlaSpec, limits: Mapping[str, Limits]) -> dict[str, Any]:
    """The promtool test file: a firing and a quiet test for every alert of `spec`."""
    tests: list[dict[str, Any]] = []
    for alert in spec.alerts:
        cases = cases_for(alert, spec, limits)
        tests.append(_test(alert, spec, cases.firing, cases.eval_s))
        tests.append(_test(alert, spec, cases.quiet, cases.eval_s))
    return {
        "rule_files": [RULES_FILE],
        "evaluation_interval": f"{EVALUATION_INTERVAL_S}s",
        "tests": tests,
    }


def write_rule_tests(
    spec: SlaSpec, folder: Path, limits: Mapping[str, Limits] | None = None
) -> tuple[Path, Path]:
    """`folder/rules.yml` and `folder/tests.yml` for promtool."""
    limits = limits if limits is not None else chart_limits(spec.deploys)
    folder.mkdir(parents=True, exist_ok=True)
    rules = folder / RULES_FILE
    rules.write_text(render_rules(spec, limits), "utf-8")
    tests = folder / TESTS_FILE
    tests.write_text(yaml.safe_dump(rule_tests(spec, limits), sort_keys=False), "utf-8")
    return rules, tests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runs.alert_tests", description=__doc__)
    parser.add_argument("--spec", default="prod")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    rules, tests = write_rule_tests(load_spec(args.spec), args.out)
    print(f"promtool check rules {rules}\npromtool test rules {tests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

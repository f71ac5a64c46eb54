"""SLA specs: `runs/specs/<name>.yaml`, one per profile or phase (DESIGN.md › Contracts
between the parts › SLA spec; figures from SPEC.md › Targets (SLA and phases) and › Alerts).

A spec file::

    profile: prod                 # must equal the file's stem
    deploys: prod                 # the chart profile the objectives are measured on
    title: Production, phase 1
    concurrent_users: {value: 50000, source: "SPEC.md › Targets › concurrent users › prod"}
    objectives:
      - id: general-api-p95
        description: General API latency, p95, excluding AI generation
        source: "SPEC.md › Targets (SLA and phases) › general API › prod (phase 1)"
        metric: p95_ms            # see METRICS
        endpoints: ["*"]          # globs over locust request names (request metrics only)
        exclude: ["ai_generation*"]
        comparator: "<"
        threshold: 200

Optional objective fields: `events` (recovery_s: chaos event name globs), `custom_metric`
(ai_generation_p95_ms / cache_hit_ratio: the samples' metric name), `window_s` (judge the worst
rolling window of that length, as an alert rule would), `min_samples` (fewer → NO-DATA),
`gating` (false: reported, never blocks), `requires_production_scale` (a miss measured on a
simulation platform is NO-DATA, not FAIL: a laptop cannot show production throughput) and
`during_chaos` (availability: also judged inside chaos windows when the run has chaos events).

Ratios are fractions (write 0.999 for 99.9%). `load_spec` reports every invalid field as
`file:line: path.to.field: message`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from runs.alerting import AlertRule, DisasterRecovery, alert_problem

SPEC_DIR = Path(__file__).parent / "specs"

Metric = Literal[
    "p95_ms",
    "error_rate",
    "availability",
    "throughput_rps",
    "ai_generation_p95_ms",
    "recovery_s",
    "cache_hit_ratio",
]
Comparator = Literal["<", "<=", ">", ">="]

METRICS: tuple[str, ...] = get_args(Metric)
REQUEST_METRICS = frozenset({"p95_ms", "error_rate", "throughput_rps"})
RATIO_METRICS = frozenset({"error_rate", "availability", "cache_hit_ratio"})
SAMPLE_METRICS = {"ai_generation_p95_ms": "ai_generation", "cache_hit_ratio": "cache_hit_ratio"}
WINDOWED_METRICS = frozenset({"availability", "error_rate", "ai_generation_p95_ms"})

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def format_value(metric: str, value: float) -> str:
    """A measured or target value in the metric's unit, as a person reads it."""
    if metric in RATIO_METRICS:
        # Enough digits that 99.95% and 99.9% differ, trailing zeros dropped.
        return f"{value * 100:.3f}".rstrip("0").rstrip(".") + "%"
    if metric.endswith("_ms"):
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if metric == "recovery_s":
        return f"{value:,.1f}".removesuffix(".0") + " s"
    if metric == "throughput_rps":
        return f"{value:,.0f} rps"
    return f"{value:g}"


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    description: str = Field(min_length=1)
    source: str = Field(description="the SPEC.md row it comes from, e.g. 'SPEC.md › Targets › …'")
    metric: Metric
    comparator: Comparator
    threshold: float
    endpoints: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    exclude: list[str] = Field(default_factory=list)
    events: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    custom_metric: str | None = None
    window_s: float | None = Field(default=None, gt=0)
    warmup_s: float | None = Field(default=None, ge=0)
    min_samples: int = Field(default=1, ge=1)
    gating: bool = True
    requires_production_scale: bool = False
    during_chaos: bool = True

    # Cross-field checks are field validators reading the already-validated `metric` (declared
    # first), so an error points at the offending field's own line; validators run only on
    # fields the file actually gives.

    @field_validator("source")
    @classmethod
    def _cites_spec(cls, value: str) -> str:
        if not value.startswith("SPEC.md"):
            raise ValueError("must cite the SPEC.md row it comes from (start with 'SPEC.md')")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold_in_unit(cls, value: float, info: ValidationInfo) -> float:
        metric = info.data.get("metric")
        if metric in RATIO_METRICS and not 0.0 <= value <= 1.0:
            raise ValueError(f"{metric} is a fraction, e.g. 0.999 for 99.9% (got {value:g})")
        if value < 0:
            raise ValueError(f"{metric} cannot be negative")
        return value

    @field_validator("endpoints", "exclude")
    @classmethod
    def _request_metric_only(cls, value: list[str], info: ValidationInfo) -> list[str]:
        metric = info.data.get("metric")
        if metric is not None and metric not in REQUEST_METRICS:
            raise ValueError(f"only for {', '.join(sorted(REQUEST_METRICS))}, not {metric}")
        return value

    @field_validator("events")
    @classmethod
    def _recovery_only(cls, value: list[str], info: ValidationInfo) -> list[str]:
        metric = info.data.get("metric")
        if metric is not None and metric != "recovery_s":
            raise ValueError(f"only for recovery_s, not {metric}")
        return value

    @field_validator("custom_metric")
    @classmethod
    def _sample_metric_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        metric = info.data.get("metric")
        if metric is not None and metric not in SAMPLE_METRICS:
            raise ValueError(f"only for {', '.join(SAMPLE_METRICS)}, not {metric}")
        return value

    @field_validator("window_s")
    @classmethod
    def _windowed_only(cls, value: float | None, info: ValidationInfo) -> float | None:
        metric = info.data.get("metric")
        if metric is not None and metric not in WINDOWED_METRICS:
            raise ValueError(f"only for {', '.join(sorted(WINDOWED_METRICS))}, not {metric}")
        if metric == "error_rate" and (
            info.data.get("endpoints", ["*"]) != ["*"] or info.data.get("exclude")
        ):
            # The per-second series is locust's aggregate: a window cannot pick endpoints.
            raise ValueError("a windowed error_rate covers all endpoints (endpoints ['*'])")
        return value

    @field_validator("warmup_s")
    @classmethod
    def _warmup_only(cls, value: float | None, info: ValidationInfo) -> float | None:
        metric = info.data.get("metric")
        if metric is not None and metric != "cache_hit_ratio":
            raise ValueError(f"only for cache_hit_ratio, not {metric}")
        return value

    @field_validator("during_chaos")
    @classmethod
    def _availability_only(cls, value: bool, info: ValidationInfo) -> bool:
        metric = info.data.get("metric")
        if metric is not None and metric != "availability":
            raise ValueError(f"only for availability, not {metric}")
        return value

    @property
    def samples_metric(self) -> str:
        return self.custom_metric or SAMPLE_METRICS[self.metric]

    def target_text(self) -> str:
        text = f"{_SYMBOL[self.comparator]} {format_value(self.metric, self.threshold)}"
        if self.window_s is not None:
            text += f" (every {self.window_s:g} s window)"
        if self.warmup_s:
            text += f" (after {self.warmup_s:g} s warm-up)"
        return text

    def met_by(self, measured: float) -> bool:
        return COMPARATORS[self.comparator](measured, self.threshold)


class ScaleTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: int = Field(gt=0)
    source: str


class SlaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    deploys: Literal["dev", "prod"]
    title: str
    concurrent_users: ScaleTarget | None = None
    objectives: list[Objective] = Field(min_length=1)
    # Alert rules (Prometheus, the chart's PrometheusRule) and backup targets: runs.alerting.
    alerts: list[AlertRule] = Field(default_factory=list)
    disaster_recovery: DisasterRecovery | None = None

    @field_validator("objectives")
    @classmethod
    def _unique_ids(cls, objectives: list[Objective]) -> list[Objective]:
        seen: set[str] = set()
        for objective in objectives:
            if objective.id in seen:
                raise ValueError(f"objective id {objective.id!r} appears twice")
            seen.add(objective.id)
        return objectives

    @field_validator("alerts")
    @classmethod
    def _alerts_name_known_objectives(
        cls, alerts: list[AlertRule], info: ValidationInfo
    ) -> list[AlertRule]:
        known = {o.id: o.metric for o in info.data.get("objectives", [])}
        for alert in alerts:
            problem = alert_problem(alert, known)
            if problem:
                raise ValueError(f"alert {alert.id!r}: {problem}")
        return alerts

    def objective(self, objective_id: str) -> Objective:
        for objective in self.objectives:
            if objective.id == objective_id:
                return objective
        raise KeyError(objective_id)


class SpecError(ValueError):
    """An SLA spec file is unreadable or invalid; `problems` lists `file:line: field: message`."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"invalid SLA spec {path}:\n  " + "\n  ".join(problems))


def spec_path(name_or_path: str | Path) -> Path:
    """`prod` → runs/specs/prod.yaml; a path is returned as given."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or len(candidate.parts) > 1:
        return candidate
    return SPEC_DIR / f"{candidate}.yaml"


def available_specs() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML at pydantic location `loc` (the deepest part that exists).

    A mapping entry is located by its key's line: a block value (a list, a mapping) starts on
    the line after its key, and a missing field is best shown at its parent's line.
    """
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _field_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_spec(name_or_path: str | Path) -> SlaSpec:
    """Read and validate a spec by profile name (`prod`) or path; raises `SpecError`."""
    path = spec_path(name_or_path)
    if not path.exists():
        raise SpecError(path, [f"{path}: not found (available: {', '.join(available_specs())})"])
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise SpecError(path, [f"{where}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise SpecError(path, [f"{path}: top level must be a mapping of spec fields"])
    try:
        spec = SlaSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
            line = _line_of(root, loc)
            where = f"{path}:{line}" if line is not None else str(path)
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {_field_path(loc)}: {message}")
        raise SpecError(path, problems) from exc
    if spec.profile != path.stem:
        raise SpecError(
            path,
            [
                f"{path}:{_line_of(root, ('profile',))}: profile: {spec.profile!r} "
                f"must equal the file name {path.stem!r}"
            ],
        )
    return spec

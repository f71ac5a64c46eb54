"""`assumptions.yaml`: the figures the simulation needs that no document gives (see the file)."""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ASSUMPTIONS_FILE = Path(__file__).with_name("assumptions.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Kubernetes(_Strict):
    hpa_sync_period_s: float = Field(gt=0)
    hpa_tolerance: float = Field(ge=0)
    hpa_cpu_initialization_period_s: float = Field(ge=0)
    hpa_initial_readiness_delay_s: float = Field(ge=0)
    metrics_resolution_s: float = Field(gt=0)
    node_monitor_grace_period_s: float = Field(ge=0)
    pod_eviction_toleration_s: float = Field(ge=0)


class ClusterAutoscaler(_Strict):
    scan_interval_s: float = Field(gt=0)
    scale_down_utilisation: float = Field(gt=0, le=1)
    scale_down_unneeded_s: float = Field(ge=0)
    scale_down_delay_after_add_s: float = Field(ge=0)
    max_node_provision_s: float = Field(gt=0)


class LogNormal(_Strict):
    """A positive duration given by its median and 90th percentile (p90 ≥ median)."""

    median: float = Field(gt=0)
    p90: float = Field(gt=0)

    @field_validator("p90")
    @classmethod
    def _above_median(cls, value: float, info: object) -> float:
        median = getattr(info, "data", {}).get("median")
        if median is not None and value < median:
            raise ValueError(f"p90 ({value}) must not be below the median ({median})")
        return value

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sigma(self) -> float:
        return math.log(self.p90 / self.median) / 1.2815515655446004  # z of 0.90


class Spike(_Strict):
    base_fraction: float = Field(gt=0, le=1)
    factor: float = Field(gt=1)
    rise_s: float = Field(gt=0)
    hold_s: float = Field(gt=0)


class ZoneLoss(_Strict):
    zone: str
    warmup_s: float = Field(gt=0)
    after_s: float = Field(gt=0)


class Load(_Strict):
    ramp_s: float = Field(gt=0)
    hold_s: float = Field(gt=0)
    daily_curve: tuple[float, ...] = Field(min_length=24, max_length=24)
    spike: Spike
    zone_loss: ZoneLoss

    @field_validator("daily_curve")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < v <= 1 for v in value) or max(value) != 1:
            raise ValueError("24 fractions of the day's peak in (0, 1], the largest exactly 1")
        return value


class Assumptions(_Strict):
    kubernetes: Kubernetes
    cluster_autoscaler: ClusterAutoscaler
    node_provisioning_s: LogNormal
    image_pull_s: float = Field(ge=0)
    pod_startup_s: LogNormal
    cpu_speed_ratio: float = Field(gt=0)
    load: Load


class AssumptionsError(ValueError):
    """The assumptions file is missing or invalid (the message names the field)."""


def load_assumptions(path: Path = ASSUMPTIONS_FILE) -> Assumptions:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssumptionsError(f"{path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise AssumptionsError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Assumptions.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise AssumptionsError(f"{path}: {problems}") from exc

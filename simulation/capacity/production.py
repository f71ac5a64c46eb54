"""The production deployment the model sizes: the chart's prod values and the prod topology."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulation.k8s.topology import NodePool, topology

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "tripgen"


@dataclass(frozen=True)
class ServiceDeployment:
    service: str
    replicas: int
    hpa_min: int
    hpa_max: int
    cpu_target: float  # HPA CPU utilisation target, 0–1 of the request
    cpu_request_m: int
    cpu_limit_m: int


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge key by key, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _millicores(value: str | int | float) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def prod_values(chart_dir: Path = CHART_DIR) -> dict[str, Any]:
    base = yaml.safe_load((chart_dir / "values.yaml").read_text(encoding="utf-8"))
    prod = yaml.safe_load((chart_dir / "values-prod.yaml").read_text(encoding="utf-8"))
    return _merge(base, prod)


def deployments(values: dict[str, Any]) -> dict[str, ServiceDeployment]:
    out = {}
    for name, svc in values["services"].items():
        auto = svc.get("autoscaling") or {}
        enabled = bool(auto.get("enabled"))
        replicas = int(svc.get("replicaCount", 1))
        out[name] = ServiceDeployment(
            service=name,
            replicas=replicas,
            hpa_min=int(auto.get("minReplicas", replicas)) if enabled else replicas,
            hpa_max=int(auto.get("maxReplicas", replicas)) if enabled else replicas,
            cpu_target=int(auto.get("targetCPUUtilizationPercentage", 100)) / 100,
            cpu_request_m=_millicores(svc["resources"]["requests"]["cpu"]),
            cpu_limit_m=_millicores(svc["resources"]["limits"]["cpu"]),
        )
    return out


def application_pool(profile: str = "prod") -> NodePool:
    for pool in topology(profile).pools:
        if pool.runs_application:
            return pool
    raise ValueError(f"profile {profile} has no application pool")

"""Monthly cost per phase from node-hours and managed services (`prices.yaml`), against SPEC.md's
budgets, and what halving the CPU per request would save.

A phase's month is its simulated day (the daily curve at the phase's peak) repeated: the
application pool costs its mean node count over the day × the node price, the system pool its
fixed count (it does not scale with the services' load), the managed services their monthly
price. Cost per million requests = the month ÷ the requests the day served × 30.4 days.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulation.capacity.cluster_spec import ClusterSpec
from simulation.capacity.des.results import SimulationResult

PRICES_FILE = Path(__file__).with_name("prices.yaml")


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    low: float | None = None
    high: float = Field(gt=0)
    source: str


class Prices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hours_per_month: float = Field(gt=0)
    nodes: dict[str, float]
    managed: dict[str, dict[str, float]]
    postgresql_vm_size: str
    budgets: dict[str, Budget]

    def node_price(self, vm_size: str) -> float:
        try:
            return self.nodes[vm_size]
        except KeyError:
            raise PricesError(f"prices.yaml has no price for node size {vm_size}") from None

    def managed_for(self, spec: str) -> dict[str, float]:
        return self.managed.get(spec) or self.managed["prod"]


class PricesError(ValueError):
    """The price table is missing, invalid, or lacks a price the estimate needs."""


def load_prices(path: Path = PRICES_FILE) -> Prices:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        prices = Prices.model_validate(raw)
    except OSError as exc:
        raise PricesError(f"{path}: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise PricesError(f"{path}: {exc}") from exc
    if "prod" not in prices.managed:
        raise PricesError(f"{path}: managed needs a `prod` map (the default for every phase)")
    return prices


@dataclass(frozen=True)
class CostEstimate:
    spec: str
    app_nodes_mean: float
    app_nodes_cost: float
    system_nodes_cost: float
    managed_cost: float
    total: float
    budget_low: float | None
    budget_high: float | None
    budget_source: str
    requests_per_month: float
    cost_per_million_requests: float

    @property
    def verdict(self) -> str:
        if self.budget_high is None:
            return "no budget"
        if self.total > self.budget_high:
            return "over budget"
        if self.budget_low is not None and self.total > self.budget_low:
            return "within the range"
        return "within budget"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def monthly_cost(
    day: SimulationResult, cluster: ClusterSpec, prices: Prices, spec: str
) -> CostEstimate:
    hours = day.duration_s / 3600
    app_mean = day.node_hours / hours if hours else 0.0
    app_cost = app_mean * prices.node_price(cluster.pool.vm_size)
    system = cluster.system_pool
    system_cost = system.count * prices.node_price(system.vm_size) if system else 0.0
    managed = sum(prices.managed_for(spec).values())
    total = app_cost + system_cost + managed
    served = float(day.series["completed_rps"].mean()) * 3600 * prices.hours_per_month
    budget = prices.budgets.get(spec)
    return CostEstimate(
        spec=spec,
        app_nodes_mean=app_mean,
        app_nodes_cost=app_cost,
        system_nodes_cost=system_cost,
        managed_cost=managed,
        total=total,
        budget_low=budget.low if budget else None,
        budget_high=budget.high if budget else None,
        budget_source=budget.source if budget else "",
        requests_per_month=served,
        cost_per_million_requests=total / (served / 1e6) if served else float("inf"),
    )

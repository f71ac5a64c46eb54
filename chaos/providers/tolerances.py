"""Steady-state tolerances that compare a probe's measurement with an SLA objective.

Used as chaostoolkit probe tolerances::

    "tolerance": {"type": "probe", "name": "meets availability",
                  "provider": {"type": "python", "module": "chaos.providers.tolerances",
                               "func": "meets_objective",
                               "arguments": {"objective": "availability", "sla": "${sla}",
                                             "target": "availability"}}}

chaoslib passes the probe's output as `value` (its validation wants every argument declared or
defaulted, hence the defaults; a tolerance always receives all of them).
"""

from __future__ import annotations

import logging
from typing import Any

from chaos.context import Configuration, context_from
from chaos.sla import resolve

logger = logging.getLogger("chaostoolkit")


def meets_objective(
    value: Any = None,
    objective: str = "",
    target: str = "",
    sla: str = "",
    configuration: Configuration | None = None,
) -> bool:
    """True when `value[target]` meets SLA objective `objective` of spec `sla` (default: the
    deployment's profile). A missing or null measurement fails: nothing measured is no pass."""
    resolved = resolve(objective, sla or context_from(configuration).profile)
    measured = value.get(target) if isinstance(value, dict) else value
    if isinstance(measured, bool) or not isinstance(measured, int | float):
        logger.warning("%s: no measurement (%r)", resolved.describe(None), measured)
        return False
    met = resolved.objective.met_by(float(measured))
    logger.info("%s → %s", resolved.describe(float(measured)), "met" if met else "NOT met")
    return met


def all_true(value: Any = None, keys: list[str] | None = None) -> bool:
    """True when every key of the probe's output dict is true (e.g. accounting checks)."""
    if not isinstance(value, dict):
        return False
    failed = [key for key in keys or [] if value.get(key) is not True]
    if failed:
        logger.warning("not true: %s (in %s)", ", ".join(failed), value)
    return not failed


def at_most(value: Any = None, target: str = "", limit: float = 0.0) -> bool:
    """True when `value[target]` is a number not above `limit` (e.g. the longest wait)."""
    measured = value.get(target) if isinstance(value, dict) else None
    if isinstance(measured, bool) or not isinstance(measured, int | float):
        logger.warning("%s: no measurement (%r)", target, measured)
        return False
    logger.info("%s = %s (limit %s)", target, measured, limit)
    return float(measured) <= float(limit)

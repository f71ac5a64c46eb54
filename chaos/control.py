"""The experiments' control (declared in each file's `controls`): picks the platform's steps,
marks when the experiment began, and files its chaos events when it ends.

* Steps for one platform only carry `"platforms": ["kind"]` (or `["local"]`); steps without it
  run everywhere. The platform is the configuration's, else the deployment's (state.json).
* An experiment that cannot run on a platform says so in its `tripgen` extension
  (`"platforms": ["local"]`); it is then interrupted with the reason instead of half-running.
* Probes measure "so far in this experiment" from the mark written here (`chaos.events`).
"""

from __future__ import annotations

import logging
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaos.context import Configuration, context_from
from chaos.events import finalize, mark_experiment

logger = logging.getLogger("chaostoolkit")

EXTENSION = "tripgen"
SECTIONS = ("method", "rollbacks")


def extension(experiment: dict[str, Any]) -> dict[str, Any]:
    for item in experiment.get("extensions", []) or []:
        if item.get("name") == EXTENSION:
            return dict(item)
    return {}


def for_platform(activities: list[dict[str, Any]], platform: str) -> list[dict[str, Any]]:
    return [a for a in activities if platform in a.get("platforms", [platform])]


def select_platform_steps(experiment: dict[str, Any], platform: str) -> None:
    """Drop, in place, every step meant for another platform."""
    hypothesis = experiment.get("steady-state-hypothesis")
    if hypothesis and "probes" in hypothesis:
        hypothesis["probes"] = for_platform(hypothesis["probes"], platform)
    for section in SECTIONS:
        if section in experiment:
            experiment[section] = for_platform(experiment[section], platform)


def before_experiment_control(
    context: dict[str, Any], configuration: Configuration | None = None, **_: Any
) -> None:
    chaos = context_from(configuration)
    supported = extension(context).get("platforms")
    if supported and chaos.platform not in supported:
        raise InterruptExecution(
            f"{context.get('title')}: runs on {', '.join(supported)}, not {chaos.platform} "
            f"({extension(context).get('why', 'no equivalent fault there')})"
        )
    select_platform_steps(context, chaos.platform)
    mark_experiment(chaos.run_dir, str(context.get("title", "")))
    logger.info(
        "platform %s, profile %s, run folder %s", chaos.platform, chaos.profile, chaos.run_dir
    )


def after_experiment_control(
    context: dict[str, Any], configuration: Configuration | None = None, **_: Any
) -> None:
    chaos = context_from(configuration)
    for event in finalize(chaos.run_dir):
        recovery = f"{event.recovery_s:.1f} s" if event.recovery_s is not None else "never"
        logger.info("chaos event %s: recovered after %s", event.name, recovery)

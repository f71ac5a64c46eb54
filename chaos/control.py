"""The experiments' control (declared in each file's `controls`): picks the platform's steps,
marks when the experiment began, and files its chaos events when it ends.

* Steps for one platform only carry `"platforms": ["kind"]` (or `["local"]`); steps without it
  run everywhere. The platform is the configuration's, else the deployment's (state.json).
* An experiment that cannot run on a platform or profile says so in its `tripgen` extension
  (`"platforms": ["local"]`, `"profiles": ["dev"]`); it is then interrupted with the reason
  instead of half-running.
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


def not_here(declared: dict[str, Any], platform: str, profile: str) -> str | None:
    """Why an experiment does not run on this platform/profile (its extension's `platforms`,
    `profiles`), or None when it does."""
    why = declared.get("why", "no equivalent fault there")
    platforms = declared.get("platforms")
    if platforms and platform not in platforms:
        return f"not run on {platform}: runs on {', '.join(platforms)} ({why})"
    profiles = declared.get("profiles")
    if profiles and profile and profile not in profiles:
        return f"not run on profile {profile}: runs on {', '.join(profiles)} ({why})"
    return None


def before_experiment_control(
    context: dict[str, Any], configuration: Configuration | None = None, **_: Any
) -> None:
    chaos = context_from(configuration)
    why_not = not_here(extension(context), chaos.platform, chaos.profile)
    if why_not:
        raise InterruptExecution(f"{context.get('title')}: {why_not}")
    select_platform_steps(context, chaos.platform)
    mark_experiment(
        chaos.run_dir, str(context.get("title", "")), str(extension(context).get("experiment", ""))
    )
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

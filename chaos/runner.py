"""Run chaostoolkit experiments in-process against the deployment, under background traffic,
and record everything in one run folder:

    <run>/journals/<experiment>.json   chaostoolkit journal (hypothesis before/after, every step)
    <run>/journals/chaostoolkit.log    chaostoolkit's log
    <run>/chaos_events.jsonl           one ChaosEvent per injected fault (start/end/recovery)
    <run>/traffic.jsonl                every background request
    <run>/results.json                 LoadResults with the chaos events (written here when the
                                       run is ours; merged into when it already exists)

`run_experiments(...)` is what `nox -s chaos` (via `chaos.cli`) and `sla-check --with-chaos` call.
With `background_load=False` the caller drives the load (e.g. locust in the same run folder): the
events then land in `chaos_events.jsonl`, which `runs.results.build_results` merges.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from chaoslib.experiment import run_experiment

from chaos.context import RUNS_FOLDER, context_from
from chaos.control import extension, not_here
from chaos.events import events_since, finalize, now
from chaos.expectations import check_alerts, missing_injections
from chaos.outcome import ExperimentOutcome, from_journal
from chaos.providers.http import RATE_LIMITED
from chaos.results import build_chaos_results
from chaos.traffic import BackgroundTraffic, read_traffic
from runs.folders import new_run_dir
from runs.results import RESULTS_FILE
from simulation.platforms.base import NotDeployed, PlatformError
from simulation.state import load_state, run_dir

EXPERIMENTS_DIR = Path(__file__).parent / "experiments"
JOURNALS = "journals"
# The order `all` runs them: cheap and self-healing first, the ones that disturb shared
# dependencies (Redis, PostgreSQL) after, so a failure early says the most.
ORDER = (
    "kill-replica",
    "zone-outage",
    "poison-messages",
    "redis-outage",
    "dependency-latency",
    "postgresql-restart",
    "postgresql-failover",
    "redis-failover",
    "llm-failure-50",
)
WARM_UP_S = 3.0  # background traffic before the first hypothesis, so it has something to judge


class ChaosRunError(RuntimeError):
    """The run cannot start (unknown experiment, nothing deployed, wrong platform)."""


def available_experiments() -> list[str]:
    found = {p.stem for p in EXPERIMENTS_DIR.glob("*.json")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def load_experiment(name: str) -> dict[str, Any]:
    path = EXPERIMENTS_DIR / f"{name}.json"
    if not path.exists():
        raise ChaosRunError(
            f"unknown experiment {name!r}; choose from: {', '.join(available_experiments())}"
        )
    return dict(json.loads(path.read_text("utf-8")))


def expand(names: Sequence[str]) -> list[str]:
    """`all` → every experiment in ORDER; otherwise the names, checked, duplicates dropped."""
    wanted = available_experiments() if "all" in names else list(dict.fromkeys(names))
    for name in wanted:
        load_experiment(name)
    return wanted


@contextlib.contextmanager
def chaostoolkit_log(path: Path) -> Iterator[None]:
    """chaostoolkit's log to a file of the run (the console gets our table)."""
    logger = logging.getLogger("chaostoolkit")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()


def run_one(
    name: str, configuration: dict[str, Any], platform: str, folder: Path
) -> ExperimentOutcome:
    experiment = load_experiment(name)
    declared = extension(experiment)
    why_not = not_here(declared, platform, str(configuration.get("profile", "")))
    if why_not:
        return ExperimentOutcome(
            name=name,
            title=experiment["title"],
            status="interrupted",
            deviated=False,
            hypothesis_before=None,
            hypothesis_after=None,
            failed_activities=[why_not],
        )
    started = now()
    settings = {"runtime": experiment.get("runtime", {})}  # as `chaos run` maps it
    journal = run_experiment(
        experiment, settings=settings, experiment_vars=(dict(configuration), {})
    )
    finalize(folder)  # the control does it too; a run that crashed early leaves events open
    journal_path = folder / JOURNALS / f"{name}.json"
    journal_path.write_text(json.dumps(journal, indent=2, default=str), "utf-8")
    events = events_since(folder, started)
    outcome = from_journal(name, journal, events, journal_path)
    if outcome.status == "interrupted":
        return outcome  # not run here: nothing was meant to be injected
    declared = extension(experiment)
    alerts = check_alerts(
        declared.get("alerts", {}),
        sla=str(configuration.get("sla") or configuration["profile"]),
        prometheus_url=_prometheus(configuration),
        started=started,
        ended=now(),
    )
    limited = sum(1 for r in read_traffic(folder, started) if r.status == RATE_LIMITED)
    return replace(
        outcome,
        not_injected=missing_injections(declared.get("injects", []), events),
        alert_problems=alerts.problems,
        alert_notes=alerts.notes,
        rate_limited=outcome.rate_limited + limited,
    )


def _prometheus(configuration: dict[str, Any]) -> str | None:
    with contextlib.suppress(PlatformError):
        return context_from(configuration).open_platform().endpoints().monitoring.get("prometheus")
    return None


def run_experiments(
    names: Sequence[str],
    *,
    profile: str,
    platform: str,
    results_path: Path | None = None,
    background_load: bool = True,
    state_dir: Path | None = None,
    sla: str | None = None,
    on_outcome: Callable[[ExperimentOutcome], None] | None = None,
) -> list[ExperimentOutcome]:
    """Run `names` (or `["all"]`) one after another against the recorded deployment.

    `results_path`: the run's results JSON (its folder is the run folder); default a new
    `.tripgen/runs/<stamp>-<profile>-chaos/`. Raises `ChaosRunError` when nothing of `profile`
    is deployed on `platform`.
    """
    wanted = expand(names)
    states = run_dir(state_dir)
    state = load_state(states)
    if state is None:
        raise ChaosRunError("nothing is deployed; deploy first or pass --deploy")
    if state.platform != platform or state.profile != profile:
        raise ChaosRunError(
            f"the deployment is {state.profile} on {state.platform}, not {profile} on {platform}"
        )
    folder = (
        results_path.parent
        if results_path
        else new_run_dir(f"{profile}-chaos", states / RUNS_FOLDER)
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / JOURNALS).mkdir(exist_ok=True)
    configuration = {
        "platform": platform,
        "profile": profile,
        "sla": sla or profile,
        "base_url": state.base_url,
        "state_dir": str(states),
        "run_dir": str(folder.resolve()),
    }
    traffic = BackgroundTraffic(state.base_url, folder) if background_load else None
    started = now()
    outcomes: list[ExperimentOutcome] = []
    with chaostoolkit_log(folder / JOURNALS / "chaostoolkit.log"):
        if traffic is not None:
            traffic.start()
            time.sleep(WARM_UP_S)
        try:
            for name in wanted:
                outcome = run_one(name, configuration, platform, folder)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        finally:
            if traffic is not None:
                traffic.stop()
    _write_results(folder, results_path, configuration, started, traffic)
    return outcomes


def _write_results(
    folder: Path,
    results_path: Path | None,
    configuration: dict[str, Any],
    started: datetime,
    traffic: BackgroundTraffic | None,
) -> None:
    """Our own results JSON when we drove the traffic and no run existed before."""
    target = results_path or folder / RESULTS_FILE
    if target.exists() or traffic is None:
        return  # events already merged by finalize(), or the caller builds the results
    replicas: dict[str, int] = {}
    with contextlib.suppress(PlatformError, NotDeployed):
        for replica in context_from(configuration).open_platform().status().replicas:
            replicas[replica.service] = replicas.get(replica.service, 0) + 1
    results = build_chaos_results(
        folder,
        profile=configuration["profile"],
        platform=configuration["platform"],
        host=configuration["base_url"],
        users=traffic.users,
        started_at=started,
        ended_at=now(),
        replicas=replicas,
    )
    results.save(target)

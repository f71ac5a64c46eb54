"""The chaos event journal of a run folder: what was injected, lifted and recovered, and when.

An event is opened by the action that injects a fault (`started_at`), updated by the rollback
that lifts it (`ended_at`) and by the probe that sees the steady state again (`recovered_at`).
While open it lives in `chaos_open_events.json`; when its experiment ends it is appended to
`chaos_events.jsonl` — the side file `runs.results.build_results` merges into a run's
results — and, if the run's `results.json` already exists, added to it too, so the SLA report
marks the chaos window and judges the recovery time.

Activities of one experiment may run in background threads, hence the lock; the files are
replaced atomically so a reader in another process never sees half a record.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runs.jsonl import append_jsonl, read_jsonl
from runs.results import CHAOS_FILE, RESULTS_FILE, ChaosEvent, LoadResults

OPEN_FILE = "chaos_open_events.json"
EXPERIMENT_FILE = "chaos_experiment.json"

_lock = threading.RLock()


class EventNotFound(LookupError):
    """No open chaos event has that name (the injecting action did not run or failed)."""


def now() -> datetime:
    return datetime.now(UTC)


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    tmp.replace(path)


def _read_open(run_dir: Path) -> list[ChaosEvent]:
    path = run_dir / OPEN_FILE
    if not path.exists():
        return []
    return [ChaosEvent.model_validate(raw) for raw in json.loads(path.read_text("utf-8"))]


def _write_open(run_dir: Path, events: list[ChaosEvent]) -> None:
    _write_json(run_dir / OPEN_FILE, [e.model_dump(mode="json") for e in events])


def start_event(run_dir: Path, name: str, details: dict[str, Any] | None = None) -> ChaosEvent:
    """Open an event named `name`, injected now."""
    event = ChaosEvent(name=name, started_at=now(), details=dict(details or {}))
    with _lock:
        events = _read_open(run_dir)
        events.append(event)
        _write_open(run_dir, events)
    return event


def update_event(
    run_dir: Path,
    name: str,
    *,
    ended_at: datetime | None = None,
    recovered_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> ChaosEvent:
    """Set the end, the recovery or more details on the newest open event called `name`.
    A time already set is kept: the first end and the first recovery are the ones measured."""
    with _lock:
        events = _read_open(run_dir)
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if event.name != name:
                continue
            merged = {**event.details, **(details or {})}
            events[index] = ChaosEvent(
                name=event.name,
                started_at=event.started_at,
                ended_at=event.ended_at or ended_at,
                recovered_at=event.recovered_at or recovered_at,
                details=merged,
            )
            _write_open(run_dir, events)
            return events[index]
    raise EventNotFound(f"no open chaos event {name!r} in {run_dir}")


def open_event(run_dir: Path, name: str) -> ChaosEvent:
    """The newest open event called `name`."""
    with _lock:
        for event in reversed(_read_open(run_dir)):
            if event.name == name:
                return event
    raise EventNotFound(f"no open chaos event {name!r} in {run_dir}")


def events_since(run_dir: Path, since: datetime) -> list[ChaosEvent]:
    """Every event (open or finished) injected at or after `since`, oldest first."""
    with _lock:
        finished = read_jsonl(run_dir / CHAOS_FILE, ChaosEvent)
        events = [*finished, *_read_open(run_dir)]
    return sorted((e for e in events if e.started_at >= since), key=lambda e: e.started_at)


def finalize(run_dir: Path, results_path: Path | None = None) -> list[ChaosEvent]:
    """Move every open event to `chaos_events.jsonl` (and into the results JSON when it exists);
    returns them. An event never seen to recover keeps `recovered_at` None: the judge fails it."""
    results_path = results_path or run_dir / RESULTS_FILE
    with _lock:
        events = _read_open(run_dir)
        for event in events:
            append_jsonl(run_dir / CHAOS_FILE, event)
        _write_open(run_dir, [])
        if events and results_path.exists():
            results = LoadResults.load(results_path)
            results.add_chaos_events(events)
            results.save(results_path)
    return events


# -- the experiment in progress ----------------------------------------------------------------


def mark_experiment(run_dir: Path, title: str, name: str = "") -> datetime:
    """Record that `title` starts now: probes measure 'so far in this experiment' from here."""
    started = now()
    _write_json(
        run_dir / EXPERIMENT_FILE,
        {"title": title, "name": name, "started_at": started.isoformat()},
    )
    return started


def current_experiment(run_dir: Path) -> str:
    """The name of the experiment in progress ("adhoc" for a probe run on its own): each
    experiment's probes and writers use accounts of their own (chaos.accounts.pool)."""
    path = run_dir / EXPERIMENT_FILE
    if not path.exists():
        return "adhoc"
    return str(json.loads(path.read_text("utf-8")).get("name") or "adhoc")


def experiment_started_at(run_dir: Path) -> datetime:
    """When the current experiment began (now, if none is marked: a probe run on its own)."""
    path = run_dir / EXPERIMENT_FILE
    if not path.exists():
        return now()
    return datetime.fromisoformat(json.loads(path.read_text("utf-8"))["started_at"])

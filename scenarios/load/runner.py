"""`run_load`: one headless locust run into a fresh run folder → the path of its results JSON.

This is what `nox -s load` (via `scenarios.cli load`) and `sla-check` call. It knows nothing of
the journeys: any locustfile works, and the locustfile records custom samples through
`scenarios.load.samples.record_sample` (the runner points `TRIPGEN_SAMPLES_FILE` into the run
folder).

Locust runs as a subprocess (`python -m locust`, gevent stays out of this process) with
`--csv PREFIX --csv-full-history` (per-second series with rolling percentiles),
`--json-file PREFIX` (final histograms) and `--html PREFIX.html`, its log in `locust.log`.
When probe targets are given, the steady prober runs in a thread for the same span and writes
`probes.jsonl`; a chaos runner started by the caller appends to `chaos_events.jsonl` in the
same folder (create it first with `new_run_dir` and pass it as `run_dir`).

Locust exits 1 when any request failed — a normal outcome of a load test, recorded in the
results; any other non-zero code, or missing output, is a harness error (`LoadRunError`).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from runs.folders import RUNS_ROOT, new_run_dir
from runs.results import CSV_PREFIX, PROBES_FILE, RESULTS_FILE, SAMPLES_FILE
from scenarios.load.collect import build_results
from scenarios.load.locust_csv import LocustOutputError
from scenarios.load.probe import Prober, ProbeTarget
from scenarios.load.samples import SAMPLES_ENV

LOG_FILE = "locust.log"
# Locust needs a moment to import and spawn before -t starts counting, and --stop-timeout
# after; beyond both, a run is hung.
_STARTUP_GRACE_S = 60.0
# How long locust may take to stop after SIGINT before it is sent SIGTERM.
_SIGINT_GRACE_S = 30.0


class LoadRunError(RuntimeError):
    """Locust did not produce a usable run (the message carries the tail of its log)."""


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _wait(process: subprocess.Popen[bytes], limit_s: float, stop: threading.Event | None) -> int:
    """The exit code; SIGINT (locust's clean stop) once `stop` is set; TimeoutExpired past
    `limit_s`."""
    if stop is None:
        return process.wait(timeout=limit_s)
    deadline = time.monotonic() + limit_s
    interrupted_at: float | None = None
    while True:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            raise subprocess.TimeoutExpired(process.args, limit_s)
        if stop.is_set() and interrupted_at is None:
            process.send_signal(signal.SIGINT)
            interrupted_at = now
        elif interrupted_at is not None and now - interrupted_at > _SIGINT_GRACE_S:
            # A child started with SIGINT ignored (a background job's) never sees it: SIGTERM
            # also makes locust write its stats (all but the HTML report).
            process.send_signal(signal.SIGTERM)
            interrupted_at = float("inf")
        try:
            return process.wait(timeout=min(0.2, remaining))
        except subprocess.TimeoutExpired:
            continue


def locust_command(
    locustfile: Path | str,
    host: str,
    prefix: Path,
    *,
    users: int,
    spawn_rate: float,
    duration_s: float,
    processes: int = 1,
    stop_timeout_s: float = 10.0,
    extra_args: Sequence[str] = (),
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        f"{spawn_rate:g}",
        "--run-time",
        f"{math.ceil(duration_s)}s",
        "--stop-timeout",
        f"{stop_timeout_s:g}",
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--json-file",
        str(prefix),
        "--html",
        f"{prefix}.html",
    ]
    if processes > 1:
        command += ["--processes", str(processes)]
    return [*command, *extra_args]


def run_load(
    locustfile: Path | str,
    host: str,
    *,
    profile: str,
    platform: str,
    users: int,
    spawn_rate: float,
    duration_s: float,
    run_dir: Path | None = None,
    runs_root: Path = RUNS_ROOT,
    replicas: Mapping[str, int] | None = None,
    processes: int = 1,
    probe_targets: Sequence[ProbeTarget] = (),
    stop_timeout_s: float = 10.0,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> Path:
    """Run locust headless against `host`, build the results and return `results.json`'s path.

    Setting `stop` ends the run early, the way Ctrl-C does (locust still writes every output):
    e.g. once the chaos experiments a run was sized for have finished.
    """
    run_dir = run_dir or new_run_dir(profile, runs_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    prefix = run_dir / CSV_PREFIX
    command = locust_command(
        locustfile,
        host,
        prefix,
        users=users,
        spawn_rate=spawn_rate,
        duration_s=duration_s,
        processes=processes,
        stop_timeout_s=stop_timeout_s,
        extra_args=extra_args,
    )
    child_env = {**os.environ, **(env or {}), SAMPLES_ENV: str(run_dir / SAMPLES_FILE)}
    limit = duration_s + stop_timeout_s + _STARTUP_GRACE_S
    log_path = run_dir / LOG_FILE
    prober = Prober(probe_targets, run_dir / PROBES_FILE) if probe_targets else None
    code, finished = _run_locust(command, child_env, log_path, limit, prober, stop)
    _check_output(code, prefix, log_path)
    notes = ["locust exited with 1: requests failed or the locustfile raised"] if code else []
    try:
        results = build_results(
            prefix,
            profile=profile,
            platform=platform,
            users=users,
            duration_s=duration_s,
            spawn_rate=spawn_rate,
            host=host,
            replicas=replicas,
            processes=processes,
            notes=notes,
            ended_at=finished,
        )
    except LocustOutputError as exc:
        raise LoadRunError(f"{exc}; log {log_path}:\n{_tail(log_path)}") from exc
    results.artifacts["locust_log"] = LOG_FILE
    return results.save(run_dir / RESULTS_FILE)


def _stop(process: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Send `first` (locust still writes its files on SIGINT/SIGTERM); SIGKILL if it hangs."""
    process.send_signal(first)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _run_locust(
    command: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    limit_s: float,
    prober: Prober | None,
    stop: threading.Event | None,
) -> tuple[int, datetime]:
    """Run locust (and the prober alongside) to its end: (exit code, when it ended)."""
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, env=dict(env)
        )
        if prober is not None:
            prober.start()
        try:
            return _wait(process, limit_s, stop), datetime.now(UTC)
        except subprocess.TimeoutExpired:
            _stop(process, signal.SIGTERM)
            raise LoadRunError(
                f"locust ran past {limit_s:.0f} s and was stopped; log {log_path}:\n"
                + _tail(log_path)
            ) from None
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM of the caller: locust must not outlive it.
            _stop(process, signal.SIGINT)
            raise
        finally:
            if prober is not None:
                prober.stop()


def _check_output(code: int, prefix: Path, log_path: Path) -> None:
    """Exit 0 or 1 (requests failed) with a stats CSV is a run; anything else is an error."""
    if code not in (0, 1):
        raise LoadRunError(f"locust exited with {code}; log {log_path}:\n{_tail(log_path)}")
    if not Path(f"{prefix}_stats.csv").exists():
        raise LoadRunError(
            f"locust wrote no {prefix}_stats.csv; log {log_path}:\n{_tail(log_path)}"
        )

"""`load --ui`: locust with its web UI; whatever ran is kept like a headless run's output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runs.results import CSV_PREFIX, RESULTS_FILE, SAMPLES_FILE
from scenarios.cli.common import JOURNEYS, UI_ADDRESS, HarnessError, console
from scenarios.cli.deployment import Deployment
from scenarios.cli.measured import LoadPlan, locust_env, print_summary
from scenarios.load.collect import build_results
from scenarios.load.locust_csv import LocustOutputError
from scenarios.load.runner import LOG_FILE
from scenarios.load.samples import SAMPLES_ENV
from scenarios.load.usage import UsageMeter, record_usage


def interactive_run(deployment: Deployment, plan: LoadPlan, folder: Path) -> int:
    """locust with its web UI (no --headless): the user starts and stops the test in the
    browser and quits with Ctrl-C; whatever ran is then kept like a headless run's output."""
    prefix = folder / CSV_PREFIX
    host, port = UI_ADDRESS
    command = [
        sys.executable, "-m", "locust", "-f", str(JOURNEYS),
        "--host", deployment.endpoints.base_url,
        "--web-host", host, "--web-port", str(port),
        "--users", str(plan.users), "--spawn-rate", f"{plan.spawn_rate:g}",
        "--csv", str(prefix), "--csv-full-history", "--json-file", str(prefix),
        "--html", f"{prefix}.html",
    ]  # fmt: skip
    if plan.processes > 1:
        command += ["--processes", str(plan.processes)]
    env = {**os.environ, **locust_env(plan.journey), SAMPLES_ENV: str(folder / SAMPLES_FILE)}
    console.print(
        f"locust web UI on [bold]http://{host}:{port}[/] against {deployment.endpoints.base_url}"
        " — start the test there; Ctrl-C here ends it and keeps the results"
    )
    meter = UsageMeter(deployment.platform, deployment.endpoints, folder / SAMPLES_FILE).start()
    started = time.time()
    with (folder / LOG_FILE).open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            process.wait()
        except KeyboardInterrupt:
            _stop_locust(process)
    usage = meter.stop()
    if not Path(f"{prefix}_stats.csv").exists():
        raise HarnessError(
            f"locust wrote no statistics (was a test started?); log {folder / LOG_FILE}"
        )
    try:
        results = build_results(
            prefix,
            profile=deployment.profile,
            platform=deployment.status.platform,
            users=plan.users,
            duration_s=time.time() - started,
            spawn_rate=plan.spawn_rate,
            host=deployment.endpoints.base_url,
            replicas=deployment.replicas,
            processes=plan.processes,
            notes=["interactive run (locust web UI): users and duration were set in the UI"],
        )
    except LocustOutputError as exc:
        raise HarnessError(f"{exc}; log {folder / LOG_FILE}") from exc
    results.save(folder / RESULTS_FILE)
    print_summary(record_usage(folder / RESULTS_FILE, usage), folder)
    return 0


def _stop_locust(process: subprocess.Popen[bytes]) -> None:
    """End an interactive locust so that it still writes its files. Ctrl-C in a terminal has
    reached it already; a SIGTERM to this command (or a job without a terminal) has not, so it
    gets its own SIGINT unless it is on its way out."""
    for signum, grace_s in ((None, 2.0), (signal.SIGINT, 30.0), (signal.SIGTERM, 15.0)):
        if signum is not None:
            process.send_signal(signum)
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()

"""The data initialisation steps a local deploy runs: schema → sample → validate.

They are the same commands the chart's init Jobs run (`python -m services.datainit STEP`,
docs/contracts.md). Until `services.datainit` exists, the schema step falls back to the
migrations module and the data steps are skipped with a warning.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from simulation.platforms.base import PlatformError
from simulation.platforms.supervisor import tail

REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS = ("schema", "sample", "validate")


def datainit_available() -> bool:
    return (REPO_ROOT / "services" / "datainit" / "__main__.py").is_file()


def services_with_migrations(services: Sequence[str]) -> list[str]:
    return [s for s in services if (REPO_ROOT / "services" / s / "migrations").is_dir()]


class DataInit:
    """Runs the steps as child processes with the deployment's environment; logs go to
    `<logs>/datainit-<step>.log`. `terminate()` ends unfinished children and refuses new ones,
    so an interrupted deploy leaves none behind (steps may run on a background thread)."""

    def __init__(
        self,
        *,
        environment: Mapping[str, str],
        services: Sequence[str],
        logs: Path,
        console: Console,
    ) -> None:
        self._env = dict(environment)
        self._services = list(services)
        self._logs = logs
        self._console = console
        self._lock = threading.Lock()
        self._terminated = False
        self.running: list[subprocess.Popen[bytes]] = []

    def command(self, step: str) -> list[str] | None:
        if datainit_available():
            return [sys.executable, "-m", "services.datainit", step]
        if step == "schema":
            return [
                sys.executable,
                "-m",
                "services.kit.migrations",
                *services_with_migrations(self._services),
            ]
        return None

    def log(self, step: str) -> Path:
        return self._logs / f"datainit-{step}.log"

    def start(self, step: str) -> subprocess.Popen[bytes] | None:
        """Launch `step`; None (with a warning) when there is nothing to run for it yet."""
        command = self.command(step)
        if command is None:
            self._console.print(
                f"[yellow]warning:[/] data init step {step!r} skipped: services.datainit does "
                "not exist yet (schema came from services.kit.migrations)"
            )
            return None
        with self._lock, self.log(step).open("wb") as out:
            if self._terminated:
                raise PlatformError(f"data init {step!r} not started: the deploy is stopping")
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=REPO_ROOT,
            )
            self.running.append(proc)
        return proc

    def finish(self, step: str, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
        if proc is None:
            return
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise PlatformError(
                f"data init {step!r} did not finish within {timeout_s:.0f} s; "
                f"log {self.log(step)}:\n{tail(self.log(step))}"
            ) from None
        with self._lock:
            if proc in self.running:
                self.running.remove(proc)
        if code != 0:
            raise PlatformError(
                f"data init {step!r} failed (exit {code}); log {self.log(step)}:\n"
                f"{tail(self.log(step))}"
            )

    def run(self, step: str, timeout_s: float) -> bool:
        """Run `step` to completion; False when there was nothing to run."""
        proc = self.start(step)
        self.finish(step, proc, timeout_s)
        return proc is not None

    def terminate(self) -> None:
        with self._lock:
            self._terminated = True
            running, self.running = self.running, []
        for proc in running:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


class StepsInBackground:
    """Data init steps run one after another on a thread while the replicas start (the
    replicas' start-up is the long pole; the steps need only PostgreSQL). `join()` re-raises
    a step's failure in the caller."""

    def __init__(self, datainit: DataInit, steps: Sequence[str], timeout_s: float) -> None:
        self._datainit = datainit
        self._steps = list(steps)
        self._timeout_s = timeout_s
        self._error: BaseException | None = None
        self.ran: list[str] = []
        self._thread = threading.Thread(target=self._run, name="datainit", daemon=True)

    def _run(self) -> None:
        try:
            for step in self._steps:
                if self._datainit.run(step, self._timeout_s):
                    self.ran.append(step)
        except BaseException as exc:  # handed to the caller by join()
            self._error = exc

    def start(self) -> StepsInBackground:
        self._thread.start()
        return self

    def join(self) -> list[str]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.ran

"""The data initialisation steps a local deploy runs: schema → sample → validate.

They are the same commands the chart's init Jobs run (`python -m services.datainit STEP`,
docs/contracts.md).
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

    def command(self, step: str) -> list[str]:
        return [sys.executable, "-m", "services.datainit", step]

    def log(self, step: str) -> Path:
        return self._logs / f"datainit-{step}.log"

    def start(self, step: str) -> subprocess.Popen[bytes]:
        """Launch `step` as a child process."""
        command = self.command(step)
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

    def finish(self, step: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
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

    def run(self, step: str, timeout_s: float) -> None:
        """Run `step` to completion."""
        self.finish(step, self.start(step), timeout_s)

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
                self._datainit.run(step, self._timeout_s)
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

"""One lifecycle for every backing server: a child process on `host:port` with its data and log
in `workdir`, started in two halves (launch, then wait until ready) so that several servers can
start at once, stopped by escalating signals, and brought back at the same address by `start()`."""

from __future__ import annotations

import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path

from simulation.backing.binaries import Binaries
from simulation.backing.errors import BackingServiceError
from simulation.backing.processes import free_port, tail


class ServerProcess(ABC):
    """A supervised server child process; subclasses say how to launch it and when it is ready."""

    name = "server"

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None,
        host: str,
        log_name: str,
        ready_timeout_s: float,
        binaries: Binaries | None,
    ) -> None:
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.log_path = workdir / log_name
        self.ready_timeout_s = ready_timeout_s
        self._binaries = binaries or Binaries.from_env()
        self._process: subprocess.Popen[bytes] | None = None
        self._deadline = 0.0

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self._process.pid if self.is_running() and self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start and wait until the server accepts clients."""
        self.begin_start()
        self.finish_start()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _arm_deadline(self) -> None:
        self._deadline = time.monotonic() + self.ready_timeout_s

    def _past_deadline(self) -> bool:
        return time.monotonic() > self._deadline

    def _remaining_s(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def _failure(self, what: str) -> BackingServiceError:
        """An error naming what went wrong, with the tail of the server's log."""
        return BackingServiceError(f"{what}; log {self.log_path}:\n{tail(self.log_path)}")

    def _check_alive(self) -> None:
        """Raise when the process exited during start-up."""
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            self._process = None
            raise self._failure(f"{self.name} exited with code {code} during start-up")

    def _check_time(self) -> None:
        """Stop and raise when the start-up deadline has passed."""
        if self._past_deadline():
            self.stop()
            raise self._failure(f"{self.name} not ready within {self.ready_timeout_s:.0f} s")

    @abstractmethod
    def begin_start(self) -> None:
        """Launch without waiting."""

    @abstractmethod
    def finish_start(self) -> None:
        """Wait for what `begin_start()` launched until it accepts clients."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server, keeping its data and port."""

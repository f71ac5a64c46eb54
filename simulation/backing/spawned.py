"""A backing server that is one command line (Prometheus, the exporters, a Redis node or
Sentinel, a pg_autoctl node): its directories prepared, the command spawned with its environment
as the unprivileged service account when we are root, polled until `ready()`, stopped by
escalating signals. Subclasses say what to run and when it is ready."""

from __future__ import annotations

import signal
import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path

from simulation.backing.binaries import Binaries
from simulation.backing.errors import BackingServiceError
from simulation.backing.processes import (
    POLL_S,
    ServiceAccount,
    prepare_dir,
    service_account,
    spawn,
    terminate,
)
from simulation.backing.server import ServerProcess


class SpawnedServer(ServerProcess):
    """`command()` with `environment()`, one process (tree) per server."""

    # What the child gets when this (parent) process dies, so nothing outlives the harness.
    death_signal: signal.Signals = signal.SIGTERM
    stop_escalation: tuple[tuple[signal.Signals, float], ...] = (
        (signal.SIGTERM, 10.0),
        (signal.SIGKILL, 5.0),
    )
    poll_s = POLL_S

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
        super().__init__(
            workdir,
            port=port,
            host=host,
            log_name=log_name,
            ready_timeout_s=ready_timeout_s,
            binaries=binaries,
        )
        self._account: ServiceAccount | None = None

    @abstractmethod
    def command(self) -> Sequence[str]:
        """The server's command line."""

    @abstractmethod
    def ready(self) -> bool:
        """True once the server accepts clients."""

    def environment(self) -> Mapping[str, str]:
        """Variables added to the child's environment."""
        return {}

    def prepare(self) -> None:
        """The work directory (subclasses add their files) before launch."""
        self._account = service_account()
        prepare_dir(self.workdir, self._account)

    def begin_start(self) -> None:
        if self.is_running():
            return
        self._arm_deadline()
        self.prepare()
        self._process = spawn(
            self.command(),
            log=self.log_path,
            cwd=self.workdir,
            account=self._account,
            death_signal=self.death_signal,
            env=self.environment(),
        )

    def finish_start(self) -> None:
        if self._process is None:
            raise BackingServiceError(f"{self.name}: finish_start() called before begin_start()")
        while not self.ready():
            self._check_alive()
            self._check_time()
            time.sleep(self.poll_s)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, self.stop_escalation)

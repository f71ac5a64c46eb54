"""A backing server that is one plain process answering HTTP (Prometheus, the exporters): started
with its command line and environment, ready when a GET of `ready_path` answers 200."""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

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


class HttpServerProcess(ServerProcess):
    """`command()` with `environment()`, as the unprivileged service account when we are root."""

    ready_path = "/"

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None,
        host: str = "127.0.0.1",
        log_name: str,
        ready_timeout_s: float = 30.0,
        binaries: Binaries | None = None,
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

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def environment(self) -> Mapping[str, str]:
        return {}

    def prepare(self) -> None:
        """The work directory (and any files the subclass writes into it)."""
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
            death_signal=signal.SIGTERM,
            env=self.environment(),
        )

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def finish_start(self) -> None:
        if self._process is None:
            raise BackingServiceError(f"{self.name}: finish_start() called before begin_start()")
        while not self.ready():
            self._check_alive()
            self._check_time()
            time.sleep(POLL_S * 5)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, [(signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)])

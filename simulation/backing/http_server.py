"""A backing server that is one plain process answering HTTP (Prometheus, the exporters): started
with its command line and environment, ready when a GET of `ready_path` answers 200."""

from __future__ import annotations

from pathlib import Path

import httpx

from simulation.backing.binaries import Binaries
from simulation.backing.processes import POLL_S
from simulation.backing.spawned import SpawnedServer


class HttpServerProcess(SpawnedServer):
    """`command()` with `environment()`, as the unprivileged service account when we are root."""

    ready_path = "/"
    poll_s = POLL_S * 5

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

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

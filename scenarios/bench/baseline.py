"""The benchmark's baseline: a trivial FastAPI app served exactly like the services.

Each replica is `python -m scenarios.bench.baseline PORT`, which runs `services.kit.serve.serve`
— the function every service's `__main__` runs (uvicorn, uvloop + httptools, no access log, the
same `TRIPGEN_WORKERS`) — and one nginx in front renders its configuration with the local
platform's own `simulation.platforms.nginx.render_nginx_conf` (same upstream keep-alive,
retries, one worker process), routing `/api/users/…` to the baseline replicas. Whatever a
route costs beyond this ceiling is the route's own work.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx
from fastapi import FastAPI

from scenarios.load.locustfiles.routes import BASELINE_PATH
from services.kit.app import NO_NATIVE_TELEMETRY
from services.kit.serve import serve
from services.kit.settings import ServiceSettings
from simulation.platforms import nginx
from simulation.platforms.local_plan import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
_READY_TIMEOUT_S = 90.0  # a busy 2-core machine can take a minute to start two uvicorns


def create_app() -> FastAPI:
    app = FastAPI(telemetry=NO_NATIVE_TELEMETRY)  # as the services run it

    @app.get(BASELINE_PATH)
    async def trivial() -> dict[str, str]:
        return {"status": "ok"}

    return app


class BaselineError(RuntimeError):
    """The baseline did not come up (the message names the log to read)."""


class BaselineServer:
    """`replicas` uvicorn processes behind one nginx on free loopback ports; a context manager
    that stops every process it started."""

    def __init__(self, replicas: int = 2) -> None:
        self.replicas = replicas
        self.directory = Path(tempfile.mkdtemp(prefix="tripgen-bench-baseline-"))
        self.paths = nginx.NginxPaths(self.directory / "nginx")
        ports = free_ports(replicas + 1)
        self.port, self.replica_ports = ports[0], ports[1:]
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BaselineServer:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self) -> None:
        binary = nginx.find_nginx()
        self.paths.create()
        self.paths.conf.write_text(
            nginx.render_nginx_conf(
                paths=self.paths,
                listen_port=self.port,
                upstreams={"user": self.replica_ports},
            )
        )
        nginx.check_config(binary, self.paths)
        for port in self.replica_ports:
            self._spawn([sys.executable, "-m", "scenarios.bench.baseline", str(port)], f"{port}")
        self._spawn(nginx.command(binary, self.paths), "nginx")
        self._wait_ready()

    def _spawn(self, command: list[str], label: str) -> None:
        log = (self.directory / f"{label}.log").open("wb")
        self.processes.append(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        urls = [f"http://127.0.0.1:{p}{BASELINE_PATH}" for p in self.replica_ports]
        urls.append(f"{self.base_url}{BASELINE_PATH}")
        with httpx.Client(timeout=1.0) as client:
            for url in urls:
                while True:
                    try:
                        if client.get(url).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline or any(
                        p.poll() is not None for p in self.processes
                    ):
                        raise BaselineError(
                            f"baseline not answering at {url}; logs in {self.directory}"
                        )
                    time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes[: self.replicas]]

    @property
    def roots(self) -> list[tuple[str, str, int]]:
        """(class, name, pid) of every process, for the CPU meter: replicas, then nginx."""
        named = [("baseline", f"baseline-{i + 1}", pid) for i, pid in enumerate(self.pids)]
        named += [("nginx", "nginx", p.pid) for p in self.processes[self.replicas :]]
        return named


def main(argv: list[str]) -> None:
    """`python -m scenarios.bench.baseline PORT`: one baseline replica."""
    serve(
        "scenarios.bench.baseline:create_app", ServiceSettings(host="127.0.0.1", port=int(argv[0]))
    )


if __name__ == "__main__":
    main(sys.argv[1:])

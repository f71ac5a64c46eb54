"""Redis as a backing server (see `server.ServerProcess`)."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from simulation.backing.binaries import Binaries
from simulation.backing.errors import BackingServiceError
from simulation.backing.processes import POLL_S, prepare_dir, service_account, spawn, terminate
from simulation.backing.server import ServerProcess


class RedisServer(ServerProcess):
    """Redis, memory only (no RDB, no AOF), maxmemory 512mb allkeys-lru as SPEC.md's dev Redis.

    `stop()` keeps the port, so `start()` brings Redis back at the same address (empty, as a
    memory-only Redis is after a restart).
    """

    name = "Redis"

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        maxmemory: str = "512mb",
        maxmemory_policy: str = "allkeys-lru",
        ready_timeout_s: float = 30.0,
        binaries: Binaries | None = None,
    ) -> None:
        super().__init__(
            workdir,
            port=port,
            host=host,
            log_name="redis.log",
            ready_timeout_s=ready_timeout_s,
            binaries=binaries,
        )
        self.maxmemory = maxmemory
        self.maxmemory_policy = maxmemory_policy

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def begin_start(self) -> None:
        if self.is_running():
            return
        self._arm_deadline()
        account = service_account()
        prepare_dir(self.workdir, account)
        argv = [
            str(self._binaries.redis_server),
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.workdir),
            "--maxmemory", self.maxmemory,
            "--maxmemory-policy", self.maxmemory_policy,
        ]  # fmt: skip
        self._process = spawn(
            argv,
            log=self.log_path,
            cwd=self.workdir,
            account=account,
            death_signal=signal.SIGTERM,
        )

    def finish_start(self) -> None:
        if self._process is None:
            raise BackingServiceError("RedisServer.finish_start() called before begin_start()")
        # No client-side retries: each refused probe must return at once so we can poll again.
        client = redis.Redis(
            host=self.host,
            port=self.port,
            socket_connect_timeout=0.2,
            socket_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while True:
                self._check_alive()
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.ping():
                        return
                self._check_time()
                time.sleep(POLL_S)
        finally:
            client.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, [(signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)])

"""Redis as a backing server (see `spawned.SpawnedServer`)."""

from __future__ import annotations

from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from simulation.backing.binaries import Binaries
from simulation.backing.spawned import SpawnedServer


def probe_client(host: str, port: int, password: str | None = None) -> redis.Redis:
    """A client for readiness probes: no client-side retries, so each refused probe returns at
    once and the caller polls again."""
    return redis.Redis(
        host=host,
        port=port,
        password=password,
        socket_connect_timeout=0.2,
        socket_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
    )


class RedisServer(SpawnedServer):
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

    def command(self) -> list[str]:
        return [
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

    def ready(self) -> bool:
        client = probe_client(self.host, self.port)
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        finally:
            client.close()

"""Redis with a replica and three Sentinels (Debian `redis-server`, `redis-sentinel`): the prod
simulation's stand-in for Azure Cache for Redis Premium (SPEC.md: 1 replica per shard, RDB hourly
+ AOF everysec, auth required).

Every data node and every Sentinel reads a config file in its own directory, and both rewrite it
when their role changes (Sentinel sends `CONFIG REWRITE` after a failover), so a node restarted
after a failover comes back in the role it had last, and a Sentinel remembers the current primary.
Sentinels watch the primary every 100 ms and call it down after 1 s (`down-after-milliseconds`);
two of three must agree (quorum 2), so losing a zone — one node and one Sentinel — still fails
over. Measured on this machine type: 2.3–2.5 s to a new primary, 0 acknowledged writes lost.

Clients ask a Sentinel for the primary (`redis.sentinel` / `redis.asyncio.sentinel`), never a
fixed address; `sentinel_url` is the form TripGen's services take (`services.kit.redis_client`).
"""

from __future__ import annotations

import contextlib
import os
import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path

import redis

from simulation.backing.binaries import Binaries, tool
from simulation.backing.processes import crash, process_tree
from simulation.backing.redis import probe_client
from simulation.backing.spawned import SpawnedServer

MASTER_NAME = "tripgen"
QUORUM = 2
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 10000

# SPEC.md › Data: Redis prod — RDB hourly + AOF everysec; SPEC.md's cache sizing for eviction.
PERSISTENCE: Mapping[str, str] = {
    "save": "3600 1",
    "appendonly": "yes",
    "appendfsync": "everysec",
    "maxmemory": "512mb",
    "maxmemory-policy": "allkeys-lru",
    # A replica resyncing after a failover must not wait for more replicas to join first.
    "repl-diskless-sync": "yes",
    "repl-diskless-sync-delay": "0",
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _RedisProcess(SpawnedServer):
    """One redis-server process (data node or Sentinel) with its rewritable config file."""

    @property
    def config_path(self) -> Path:
        return self.workdir / "redis.conf"

    @abstractmethod
    def config(self) -> str:
        """The config file's first version (Redis rewrites it later)."""

    def prepare(self) -> None:
        """The directory and, on first start only, the config file (later it is Redis's own)."""
        super().prepare()
        if not self.config_path.exists():
            self.config_path.write_text(self.config())
            self.config_path.chmod(0o600)  # it holds the password
            if self._account is not None:
                os.chown(self.config_path, self._account.uid, self._account.gid)

    def crash(self) -> list[int]:
        """SIGKILL the process (a lost machine); returns the pids."""
        process, self._process = self._process, None
        if process is None:
            return []
        hit = crash(process_tree(process.pid))
        process.wait(timeout=5)
        return hit


class RedisNode(_RedisProcess):
    """A Redis data node: the primary, or (`replica_of` set) a replica of it, with SPEC.md's
    prod persistence and a password."""

    def __init__(
        self,
        workdir: Path,
        *,
        node_name: str,
        password: str,
        port: int | None = None,
        replica_of: int | None = None,
        host: str = "127.0.0.1",
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
        self.name = f"Redis node {node_name}"
        self.node_name = node_name
        self.password = password
        self.replica_of = replica_of

    def config(self) -> str:
        lines = [
            "# Written by simulation/backing/redis_ha.py; Redis rewrites it on a role change.",
            f"port {self.port}",
            f"bind {self.host}",
            "daemonize no",
            f"dir {_quote(str(self.workdir))}",
            f"requirepass {_quote(self.password)}",
            f"masterauth {_quote(self.password)}",
            *(f"{key} {value}" for key, value in PERSISTENCE.items()),
        ]
        if self.replica_of is not None:
            lines.append(f"replicaof {self.host} {self.replica_of}")
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        return [str(self._binaries.redis_server), str(self.config_path)]

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def role(self) -> str | None:
        """`master` or `slave` as the node says (None when it does not answer)."""
        client = probe_client(self.host, self.port, self.password)
        try:
            return str(client.info("replication").get("role"))
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return None
        finally:
            client.close()

    def ready(self) -> bool:
        client = probe_client(self.host, self.port, self.password)
        try:
            info = client.info("replication")
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return False
        finally:
            client.close()
        if info.get("role") == "slave":
            return info.get("master_link_status") == "up"
        return True


class RedisSentinel(_RedisProcess):
    """One of the Sentinels watching the primary called `MASTER_NAME`."""

    def __init__(
        self,
        workdir: Path,
        *,
        sentinel_name: str,
        primary_port: int,
        password: str,
        port: int | None = None,
        host: str = "127.0.0.1",
        ready_timeout_s: float = 30.0,
        binaries: Binaries | None = None,
    ) -> None:
        super().__init__(
            workdir,
            port=port,
            host=host,
            log_name="sentinel.log",
            ready_timeout_s=ready_timeout_s,
            binaries=binaries,
        )
        self.name = f"Redis Sentinel {sentinel_name}"
        self.sentinel_name = sentinel_name
        self.primary_port = primary_port
        self.password = password

    def config(self) -> str:
        return "\n".join(
            [
                "# Written by simulation/backing/redis_ha.py; Sentinel rewrites it as it learns.",
                f"port {self.port}",
                f"bind {self.host}",
                "daemonize no",
                f"dir {_quote(str(self.workdir))}",
                f"sentinel monitor {MASTER_NAME} {self.host} {self.primary_port} {QUORUM}",
                f"sentinel auth-pass {MASTER_NAME} {_quote(self.password)}",
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER_NAME} 1",
                "",
            ]
        )

    def command(self) -> list[str]:
        return [str(tool("redis-sentinel")), str(self.config_path)]

    def master(self) -> tuple[str, int] | None:
        """The primary this Sentinel names (None when it does not answer)."""
        client = probe_client(self.host, self.port)
        try:
            address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return None
        finally:
            client.close()
        if not address:
            return None
        host, port = address
        return (host.decode() if isinstance(host, bytes) else str(host)), int(port)

    def ready(self) -> bool:
        return self.master() is not None


def current_primary(sentinel_ports: Sequence[int], host: str = "127.0.0.1") -> int | None:
    """The primary's port as the first answering Sentinel names it."""
    for port in sentinel_ports:
        client = probe_client(host, port)
        try:
            address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            continue
        finally:
            client.close()
        if address:
            return int(address[1])
    return None


def sentinel_url(
    sentinel_ports: Sequence[int], *, password: str, host: str = "127.0.0.1", db: int = 0
) -> str:
    """`redis+sentinel://:PASSWORD@h:p1,h:p2,h:p3/MASTER/DB`: TripGen's services connect through
    the Sentinels to whichever node is the primary (services.kit.redis_client)."""
    hosts = ",".join(f"{host}:{port}" for port in sentinel_ports)
    return f"redis+sentinel://:{password}@{hosts}/{MASTER_NAME}/{db}"


def wait_for_primary(
    sentinel_ports: Sequence[int], *, not_port: int | None, timeout_s: float
) -> int | None:
    """Poll until the Sentinels name a primary other than `not_port`; its port or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            port = current_primary(sentinel_ports)
            if port is not None and port != not_port:
                return port
        time.sleep(0.05)
    return None

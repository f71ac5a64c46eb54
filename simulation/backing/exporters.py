"""The Prometheus exporters of the prod simulation (Debian `prometheus-nginx-exporter`,
`prometheus-postgres-exporter`, `prometheus-redis-exporter`): one process each, < 0.1 s to start,
about 15 MB each.

* nginx: reads nginx's `stub_status` page (connections, requests) on its status port.
* PostgreSQL: one exporter for every data node (`DATA_SOURCE_NAME` lists them; series carry
  `server="host:port"`), so `pg_up`, connections per node (`pg_stat_activity_count`) and
  `max_connections` (`pg_settings_max_connections`) feed the DB-connections alert.
* Redis: a multi-target exporter — Prometheus asks `/scrape?target=redis://…` for each node, so a
  node that goes away shows as `redis_up 0` instead of silently vanishing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from simulation.backing.binaries import tool
from simulation.backing.http_server import HttpServerProcess


class NginxExporter(HttpServerProcess):
    name = "nginx exporter"
    ready_path = "/metrics"

    def __init__(self, workdir: Path, *, status_url: str, port: int | None = None) -> None:
        super().__init__(workdir, port=port, log_name="nginx-exporter.log")
        self.status_url = status_url

    def command(self) -> list[str]:
        return [
            str(tool("nginx-exporter")),
            f"-nginx.scrape-uri={self.status_url}",
            f"-web.listen-address={self.host}:{self.port}",
            # Do not give up while nginx is still starting beside it.
            "-nginx.retries=30",
            "-nginx.retry-interval=500ms",
        ]


class PostgresExporter(HttpServerProcess):
    name = "PostgreSQL exporter"
    ready_path = "/metrics"

    def __init__(self, workdir: Path, *, dsns: Sequence[str], port: int | None = None) -> None:
        super().__init__(workdir, port=port, log_name="postgres-exporter.log")
        self.dsns = list(dsns)

    def command(self) -> list[str]:
        return [
            str(tool("postgres-exporter")),
            f"--web.listen-address={self.host}:{self.port}",
            "--log.level=warn",
        ]

    def environment(self) -> Mapping[str, str]:
        # The exporter's documented way to watch several servers: comma-separated DSNs.
        return {"DATA_SOURCE_NAME": ",".join(self.dsns)}


class RedisExporter(HttpServerProcess):
    """Multi-target: `/scrape?target=redis://host:port` per node (see `ScrapeJob.exporter`)."""

    name = "Redis exporter"
    ready_path = "/metrics"

    def __init__(self, workdir: Path, *, password: str, port: int | None = None) -> None:
        super().__init__(workdir, port=port, log_name="redis-exporter.log")
        self.password = password

    def command(self) -> list[str]:
        return [
            str(tool("redis-exporter")),
            f"-web.listen-address={self.host}:{self.port}",
            # Its own /metrics must not depend on a fixed node: every node is a /scrape target.
            "-redis.addr=",
        ]

    def environment(self) -> Mapping[str, str]:
        return {"REDIS_PASSWORD": self.password}

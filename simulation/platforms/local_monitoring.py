"""Monitoring of a local deployment: Prometheus scraping every replica (labels `service`, `zone`,
`replica`), nginx, PostgreSQL and Redis through their exporters, with the alert rules generated
from the SLA spec the deployment is judged by (`runs.alerts`, the same rules the chart's
PrometheusRule carries). On by default for prod, on request for dev (`deploy --monitoring`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runs.alerts import render_rules
from runs.spec import load_spec
from simulation.backing.exporters import NginxExporter, PostgresExporter, RedisExporter
from simulation.backing.http_server import HttpServerProcess
from simulation.backing.processes import service_account
from simulation.backing.prometheus import PrometheusServer, ScrapeJob, ScrapeTarget, render_config
from simulation.platforms.nginx import STUB_STATUS_PATH
from simulation.platforms.supervisor import Program

PROMETHEUS = "prometheus"
NGINX_STATUS = "nginx-status"


@dataclass(frozen=True)
class MonitoringPlan:
    ports: dict[str, int]  # prometheus, the exporters, nginx-status
    spec: str  # the SLA spec the alert rules come from
    backing_dir: str

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[PROMETHEUS]}"

    @property
    def nginx_status_port(self) -> int:
        return self.ports[NGINX_STATUS]

    @property
    def programs(self) -> list[str]:
        """Prometheus and the exporters (one PostgreSQL exporter per data node)."""
        return [name for name in self.ports if name != NGINX_STATUS]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MonitoringPlan:
        return cls(
            ports={k: int(v) for k, v in raw["ports"].items()},
            spec=str(raw["spec"]),
            backing_dir=str(raw["backing_dir"]),
        )


def port_names(postgres_nodes: int) -> list[str]:
    # One PostgreSQL exporter per node: 0.11's several-DSN mode reports its collectors' own
    # metrics once per server and then fails every scrape on the duplicates.
    exporters = [f"postgres-exporter-{i + 1}" for i in range(postgres_nodes)]
    return [PROMETHEUS, "nginx-exporter", "redis-exporter", *exporters, NGINX_STATUS]


def make_monitoring_plan(
    ports: list[int], *, postgres_nodes: int, spec: str, backing_dir: Path
) -> MonitoringPlan:
    names = port_names(postgres_nodes)
    return MonitoringPlan(dict(zip(names, ports, strict=True)), spec, str(backing_dir))


@dataclass(frozen=True)
class Scraped:
    """What a deployment offers to scrape: replicas (service, zone, replica name, port), the
    PostgreSQL DSNs and Redis nodes (member name, zone, port) of its data stores."""

    replicas: Sequence[tuple[str, str, str, int]]
    postgres: Sequence[tuple[str, str, str]]  # member, zone, DSN
    redis: Sequence[tuple[str, str, int]]  # member, zone, port
    redis_password: str | None


def scrape_jobs(plan: MonitoringPlan, scraped: Scraped) -> list[ScrapeJob]:
    """`tripgen` (every replica), `nginx`, `postgresql` and `redis` (per data node)."""
    ports = plan.ports
    return [
        ScrapeJob(
            "tripgen",
            [
                ScrapeTarget(f"127.0.0.1:{port}", {"service": s, "zone": z, "replica": r})
                for s, z, r, port in scraped.replicas
            ],
        ),
        ScrapeJob("nginx", [ScrapeTarget(f"127.0.0.1:{ports['nginx-exporter']}")]),
        ScrapeJob(
            "postgresql",
            [
                ScrapeTarget(
                    f"127.0.0.1:{ports[f'postgres-exporter-{i + 1}']}", {"member": m, "zone": z}
                )
                for i, (m, z, _) in enumerate(scraped.postgres)
            ],
        ),
        ScrapeJob(
            "redis",
            [
                ScrapeTarget(f"redis://127.0.0.1:{port}", {"member": m, "zone": z})
                for m, z, port in scraped.redis
            ],
            metrics_path="/scrape",
            exporter=f"127.0.0.1:{ports['redis-exporter']}",
        ),
        ScrapeJob(PROMETHEUS, [ScrapeTarget(f"127.0.0.1:{ports[PROMETHEUS]}")]),
    ]


def servers(plan: MonitoringPlan, scraped: Scraped, run_id: str) -> dict[str, HttpServerProcess]:
    root = Path(plan.backing_dir)
    ports = plan.ports
    config = render_config(scrape_jobs(plan, scraped), external_labels={"deployment": run_id})
    rules = render_rules(load_spec(plan.spec))
    found: dict[str, HttpServerProcess] = {
        PROMETHEUS: PrometheusServer(
            root / PROMETHEUS, config=config, rules=rules, port=ports[PROMETHEUS]
        ),
        "nginx-exporter": NginxExporter(
            root / "nginx-exporter",
            status_url=f"http://127.0.0.1:{plan.nginx_status_port}{STUB_STATUS_PATH}",
            port=ports["nginx-exporter"],
        ),
        "redis-exporter": RedisExporter(
            root / "redis-exporter",
            password=scraped.redis_password or "",
            port=ports["redis-exporter"],
        ),
    }
    for index, (_, _, dsn) in enumerate(scraped.postgres):
        name = f"postgres-exporter-{index + 1}"
        found[name] = PostgresExporter(root / name, dsns=[dsn], port=ports[name])
    return found


def prepare(plan: MonitoringPlan, scraped: Scraped, run_id: str) -> None:
    """Write Prometheus's config and rules (and the exporters' directories)."""
    for server in servers(plan, scraped, run_id).values():
        server.prepare()


def programs(
    plan: MonitoringPlan, scraped: Scraped, run_id: str, log_of: Callable[[str], Path]
) -> list[Program]:
    """Prometheus and the exporters as supervisord programs (restarted when they die: they are
    the observer, not the observed)."""
    account = service_account()
    found = []
    for name, server in servers(plan, scraped, run_id).items():
        found.append(
            Program(
                name=name,
                command=list(server.command()),
                log_file=log_of(name),
                environment=dict(server.environment()),
                directory=server.workdir,
                user=account.name if account else None,
                autostart=False,
                priority=30,
            )
        )
    return found

"""Prometheus (Debian `prometheus`, 2.42) for the prod simulation: scrapes every replica and
exporter, evaluates the alert rules generated from the SLA spec (`runs.alerts`), and answers the
HTTP API the harness reads alerts from. Also `promtool`, which checks and unit-tests rule files.

Measured on this machine type: ready in 0.1 s, but the first scrape comes 5–6 s after start (a
fixed reload throttle), so nothing may wait for data right after a deploy; 58–74 MB.
Alertmanager is not started: nothing here delivers notifications, and which alerts fired is read
from Prometheus itself (`ALERTS`), the series Alertmanager would be fed from.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from simulation.backing.binaries import Binaries, tool
from simulation.backing.errors import BackingServiceError
from simulation.backing.http_server import HttpServerProcess

SCRAPE_INTERVAL_S = 2
EVALUATION_INTERVAL_S = 2
RULES_FILE = "rules.yml"


@dataclass(frozen=True)
class ScrapeTarget:
    """An address to scrape (`host:port`, or for a multi-target exporter the target it is asked
    about, e.g. `redis://127.0.0.1:6379`) and the labels its series get."""

    address: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScrapeJob:
    name: str
    targets: Sequence[ScrapeTarget]
    metrics_path: str = "/metrics"
    # A multi-target exporter (`host:port`): each target is passed as `?target=` to it.
    exporter: str | None = None


def render_config(
    jobs: Sequence[ScrapeJob],
    *,
    rule_files: Sequence[str] = (RULES_FILE,),
    scrape_interval_s: int = SCRAPE_INTERVAL_S,
    evaluation_interval_s: int = EVALUATION_INTERVAL_S,
    external_labels: Mapping[str, str] | None = None,
) -> str:
    """prometheus.yml for `jobs`."""
    scrape_configs: list[dict[str, Any]] = []
    for job in jobs:
        entry: dict[str, Any] = {
            "job_name": job.name,
            "metrics_path": job.metrics_path,
            "static_configs": [
                {"targets": [t.address], "labels": dict(t.labels)} for t in job.targets
            ],
        }
        if job.exporter is not None:
            entry["relabel_configs"] = [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": job.exporter},
            ]
        scrape_configs.append(entry)
    config = {
        "global": {
            "scrape_interval": f"{scrape_interval_s}s",
            "scrape_timeout": f"{max(1, scrape_interval_s - 1)}s",
            "evaluation_interval": f"{evaluation_interval_s}s",
            "external_labels": dict(external_labels or {}),
        },
        "rule_files": list(rule_files),
        "scrape_configs": scrape_configs,
    }
    return "# Written by simulation/backing/prometheus.py\n" + yaml.safe_dump(
        config, sort_keys=False
    )


class PrometheusServer(HttpServerProcess):
    """Prometheus with `config` (prometheus.yml text) and `rules` (rules.yml text) in `workdir`;
    data kept for a day (a simulation's runs are hours)."""

    name = "Prometheus"
    ready_path = "/-/ready"

    def __init__(
        self,
        workdir: Path,
        *,
        config: str,
        rules: str,
        port: int | None = None,
        host: str = "127.0.0.1",
        ready_timeout_s: float = 30.0,
        binaries: Binaries | None = None,
    ) -> None:
        super().__init__(
            workdir,
            port=port,
            host=host,
            log_name="prometheus.log",
            ready_timeout_s=ready_timeout_s,
            binaries=binaries,
        )
        self.config = config
        self.rules = rules

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    def prepare(self) -> None:
        super().prepare()
        self.config_path.write_text(self.config)
        (self.workdir / RULES_FILE).write_text(self.rules)

    def command(self) -> list[str]:
        return [
            str(tool("prometheus")),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]


class PrometheusError(RuntimeError):
    """The Prometheus HTTP API could not be reached or refused the query."""


def api(base_url: str, path: str, params: Mapping[str, str], timeout_s: float = 10.0) -> Any:
    """GET `/api/v1/<path>` and return its `data`."""
    try:
        response = httpx.get(f"{base_url}/api/v1/{path}", params=dict(params), timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise PrometheusError(f"Prometheus at {base_url} not reachable: {exc}") from exc
    body = response.json() if response.headers.get("content-type", "").startswith("app") else {}
    if response.status_code != 200 or body.get("status") != "success":
        raise PrometheusError(
            f"Prometheus {path} {dict(params)}: HTTP {response.status_code} "
            f"{body.get('error') or response.text[:200]}"
        )
    return body["data"]


def query(base_url: str, promql: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    data = api(base_url, "query", params)
    return list(data.get("result", []))


def query_range(
    base_url: str, promql: str, start: float, end: float, step_s: float = 1.0
) -> list[dict[str, Any]]:
    """A range query's result matrix (unix-second bounds)."""
    data = api(
        base_url,
        "query_range",
        {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}s"},
    )
    return list(data.get("result", []))


def promtool(*args: str, cwd: Path | None = None, timeout_s: float = 60.0) -> str:
    """Run promtool; its output, or `BackingServiceError` with it when it fails."""
    result = subprocess.run(
        [str(tool("promtool")), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout_s,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise BackingServiceError(f"promtool {' '.join(args)} failed:\n{output}")
    return output

"""Smoke tests of the built images: each service answers health, each data store serves the chart.

- A service: `python -m services.<service>` from the image against real PostgreSQL + Redis
  (`simulation.backing`), `--network host` on a free port, read-only root, all capabilities dropped;
  poll `/actuator/health/liveness`, then report readiness.
- A data store: the container of the rendered kind StatefulSet run as the kubelet would
  (`simulation.k8s.podrun`: the chart's env, args, volumes and security context), its startup
  probe awaited, then reached the way the services reach it — their `TRIPGEN_DATABASE_URL` /
  `TRIPGEN_REDIS_URL` from the rendered Deployment, pointed at the published port — and checked
  for what the services need (PostGIS and pg_trgm; the Redis memory policy).
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from simulation.k8s.docker import Docker, ImageError
from simulation.k8s.podrun import (
    PodRun,
    await_exec_probe,
    container_env,
    find_doc,
    published_port,
)

HEALTH_PATH = "/actuator/health/liveness"
READINESS_PATH = "/actuator/health/readiness"
STORE_PORTS = {"postgresql": 5432, "redis": 6379}
Doc = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode(errors="replace")


@contextlib.contextmanager
def backing_env() -> Iterator[dict[str, str]]:
    """TRIPGEN_DATABASE_URL and TRIPGEN_REDIS_URL of freshly started PostgreSQL + Redis."""
    from simulation.backing import BackingServices, ensure_binaries

    ensure_binaries()
    with BackingServices() as services:
        yield {
            "TRIPGEN_DATABASE_URL": services.postgres.dsn,
            "TRIPGEN_REDIS_URL": services.redis.url,
        }


@dataclass
class SmokeResult:
    service: str
    liveness: int
    readiness: int | None
    seconds: float
    body: str = ""


def _await_health(docker: Docker, name: str, port: int, timeout_s: float) -> tuple[int, str]:
    start, status, body = time.monotonic(), 0, ""
    while time.monotonic() - start < timeout_s:
        running = docker.run("inspect", "-f", "{{.State.Running}}", name, check=False)
        if running.stdout.strip() != "true":
            logs = docker.run("logs", name, check=False)
            raise ImageError(
                f"{name} exited before serving health:\n" + (logs.stdout + logs.stderr)[-3000:]
            )
        with contextlib.suppress(OSError):
            status, body = http_get(f"http://127.0.0.1:{port}{HEALTH_PATH}")
            if status == 200:
                return status, body
        time.sleep(0.5)
    logs = docker.run("logs", name, check=False)
    raise ImageError(
        f"no 200 from {HEALTH_PATH} within {timeout_s:.0f} s (last {status}):\n"
        + (logs.stdout + logs.stderr)[-3000:]
    )


def smoke_service(
    docker: Docker, tag: str, service: str, backing: dict[str, str], timeout_s: float = 90
) -> SmokeResult:
    """Run `python -m services.<service>` from the image against `backing` (its
    TRIPGEN_DATABASE_URL / TRIPGEN_REDIS_URL) until liveness answers 200."""
    port = free_port()
    name = f"tripgen-smoke-{service}-{os.getpid()}"
    env_args: list[str] = []
    settings = {**backing, "TRIPGEN_PORT": str(port), "TRIPGEN_HOST": "127.0.0.1"}
    for key, value in {**settings, "TRIPGEN_PROFILE": "dev"}.items():
        env_args += ["-e", f"{key}={value}"]
    docker.run(
        "run", "-d", "--name", name, "--network", "host", "--read-only",
        "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        *env_args, tag, "python", "-m", f"services.{service}",
    )  # fmt: skip
    start = time.monotonic()
    try:
        status, body = _await_health(docker, name, port, timeout_s)
        elapsed = time.monotonic() - start
        readiness: int | None
        try:
            readiness, _ = http_get(f"http://127.0.0.1:{port}{READINESS_PATH}", timeout=5)
        except OSError:
            readiness = None
        return SmokeResult(service, status, readiness, elapsed, body.strip()[:200])
    finally:
        docker.run("rm", "-f", name, check=False)


def service_url(docs: list[Doc], variable: str, port: int) -> str:
    """A service's `variable` (TRIPGEN_DATABASE_URL …) from the rendered user Deployment, its
    `$(…)` references expanded, pointed at 127.0.0.1:`port`."""
    deployment = find_doc(docs, "Deployment", "tripgen-user")
    env = container_env(deployment["spec"]["template"]["spec"]["containers"][0], docs)
    parts = urlsplit(env[variable])
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{port}"))


def _check_postgresql(url: str, workload: Doc) -> str:
    import psycopg

    args = workload["spec"]["template"]["spec"]["containers"][0]["args"]
    wanted = dict(a.split("=", 1) for a in args if "=" in a)
    with psycopg.connect(url, connect_timeout=10) as conn:
        extensions = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        missing = {"postgis", "pg_trgm"} - extensions
        if missing:
            raise ImageError(f"PostgreSQL lacks the extension(s) {sorted(missing)}")
        for key, value in wanted.items():
            row = conn.execute(f"SHOW {key}").fetchone()  # keys come from the chart's args
            if row is None or row[0] != value:
                raise ImageError(f"PostgreSQL {key} is {row}, the chart asks for {value}")
        version = conn.execute("SELECT postgis_lib_version()").fetchone()
    return f"PostGIS {version[0] if version else '?'}, pg_trgm, {', '.join(wanted)} as set"


def _check_redis(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.set("tripgen:smoke", "1", ex=10)
        policy = str(client.config_get("maxmemory-policy")["maxmemory-policy"])
        memory = int(str(client.config_get("maxmemory")["maxmemory"]))
        version = client.info("server")["redis_version"]
    finally:
        client.close()
    return f"Redis {version}, maxmemory {memory // 2**20} MiB {policy}, password required"


def smoke_store(docker: Docker, store: str, docs: list[Doc], timeout_s: float = 120) -> str:
    """Run the rendered `tripgen-<store>` StatefulSet's container; reach it as the services do."""
    workload = find_doc(docs, "StatefulSet", f"tripgen-{store}")
    name = f"tripgen-smoke-{store}-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix=f"tripgen-{store}-") as tmp:
        pod = PodRun(workload, docs, Path(tmp))
        docker.run(*pod.args(name), timeout=120)
        try:
            probe = pod.container.get("startupProbe") or pod.container["readinessProbe"]
            seconds = await_exec_probe(docker, name, probe, timeout_s)
            port = published_port(docker, name, STORE_PORTS[store])
            if store == "postgresql":
                detail = _check_postgresql(
                    service_url(docs, "TRIPGEN_DATABASE_URL", port), workload
                )
            else:
                detail = _check_redis(service_url(docs, "TRIPGEN_REDIS_URL", port))
            return f"probe passed after {seconds:.1f} s; {detail}"
        finally:
            docker.run("rm", "-f", "--volumes", name, check=False)

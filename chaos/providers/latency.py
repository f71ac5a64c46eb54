"""Latency on the path from the services to a dependency (Redis or PostgreSQL), local platform.

    inject: delay proxy up (`chaos.delay_proxy`) → iptables NAT redirects new connections to the
            dependency's port into it (its own, marked, connections exempt) → the dependency drops
            its client connections (Redis `CLIENT KILL`, PostgreSQL `pg_terminate_backend`), so
            the services' pools reconnect — through the delay
    remove: rules deleted → connections dropped again (pools reconnect directly) → proxy down

The rules match only 127.0.0.1:<the deployment's own port> and carry a comment naming it, so
nothing else on the machine is touched and a rollback finds exactly what it must delete.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis
from chaoslib.exceptions import ActivityFailed

from chaos.context import Configuration, context_from
from chaos.delay_proxy import PROXY_MARK, DelayProxy, Upstream
from chaos.events import now, start_event, update_event
from simulation.backing.binaries import ensure_tools
from simulation.backing.errors import BinariesMissingError

_proxies: dict[str, DelayProxy] = {}


def _comment(port: int) -> str:
    return f"tripgen-chaos-latency-{port}"


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        # As root the harness installs it (Debian `iptables`), like every other part it runs.
        binary = shutil.which("iptables") or str(
            ensure_tools(["iptables"], why="the dependency-latency experiment")["iptables"]
        )
    except BinariesMissingError as exc:
        raise ActivityFailed(f"cannot inject latency: {exc}") from exc
    return subprocess.run(
        [binary, "-w", "5", "-t", "nat", *args],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )


def redirect_rules(port: int, proxy_port: int) -> list[list[str]]:
    """The two OUTPUT rules: the proxy's marked traffic passes, everything else is redirected."""
    match = [
        "-p",
        "tcp",
        "-d",
        "127.0.0.1",
        "--dport",
        str(port),
        "-m",
        "comment",
        "--comment",
        _comment(port),
    ]
    return [
        [*match, "-m", "mark", "--mark", hex(PROXY_MARK), "-j", "RETURN"],
        [*match, "-j", "REDIRECT", "--to-ports", str(proxy_port)],
    ]


def _add_rules(port: int, proxy_port: int) -> None:
    for rule in redirect_rules(port, proxy_port):
        done = _iptables("-A", "OUTPUT", *rule)
        if done.returncode != 0:
            _delete_rules(port)
            raise ActivityFailed(f"iptables refused the redirect: {done.stderr.strip()}")


def _rules_in_place(port: int) -> bool:
    listing = _iptables("-S", "OUTPUT").stdout
    return sum(_comment(port) in line for line in listing.splitlines()) == 2


def _delete_rules(port: int) -> int:
    """Delete every OUTPUT rule carrying the port's comment; returns how many."""
    listing = _iptables("-S", "OUTPUT").stdout.splitlines()
    deleted = 0
    for line in listing:
        if _comment(port) in line and line.startswith("-A OUTPUT "):
            rule = line.removeprefix("-A OUTPUT ").replace(f'"{_comment(port)}"', _comment(port))
            if _iptables("-D", "OUTPUT", *rule.split()).returncode == 0:
                deleted += 1
    return deleted


def _address(url: str) -> Upstream:
    parts = urlsplit(url)
    return Upstream(parts.hostname or "127.0.0.1", parts.port or 0)


def drop_connections(dependency: str, url: str) -> int:
    """Make the dependency close its clients' connections (pools reconnect on next use)."""
    if dependency == "redis":
        client = redis.Redis.from_url(url, socket_timeout=10)
        try:
            return int(client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"))
        finally:
            client.close()
    with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchone()
    return int(row[0]) if row else 0


def _dependency_url(configuration: Configuration | None, dependency: str) -> str:
    context = context_from(configuration)
    if context.platform != "local":
        raise ActivityFailed(
            f"latency injection runs on the local platform (this deployment is {context.platform})"
        )
    url = context.open_platform().endpoints().dependencies.get(dependency)
    if not url:
        raise ActivityFailed(f"no address for dependency {dependency!r}")
    return url


def inject_latency(
    dependency: str = "redis", delay_ms: float = 300.0, configuration: Configuration | None = None
) -> dict[str, Any]:
    """Every packet between the services and `dependency` delayed `delay_ms` each way."""
    context = context_from(configuration)
    url = _dependency_url(configuration, dependency)
    upstream = _address(url)
    proxy = DelayProxy(upstream, delay_ms / 1000.0).start()
    _proxies[dependency] = proxy
    try:
        _add_rules(upstream.port, proxy.port)
        dropped = drop_connections(dependency, url)
    except BaseException:
        with contextlib.suppress(ActivityFailed):  # undo what got in; the cause is raised
            remove_latency(dependency, configuration)
        raise
    if proxy.port == 0 or not _rules_in_place(upstream.port):
        remove_latency(dependency, configuration)
        raise ActivityFailed(f"the redirect to the delay proxy for {dependency} is not in place")
    # Only now is the fault real: the event (and so the experiment's claim) starts here.
    start_event(
        context.run_dir,
        f"dependency-latency/{dependency}",
        {
            "dependency": dependency,
            "delay_ms_each_way": delay_ms,
            "proxy_port": proxy.port,
            "connections_rerouted": dropped,
        },
    )
    return {"dependency": dependency, "proxy_port": proxy.port, "connections_rerouted": dropped}


def remove_latency(
    dependency: str = "redis", configuration: Configuration | None = None
) -> dict[str, Any]:
    """Undo `inject_latency` (also the rollback: does nothing when nothing is injected)."""
    context = context_from(configuration)
    url = _dependency_url(configuration, dependency)
    deleted = _delete_rules(_address(url).port)
    proxy = _proxies.pop(dependency, None)
    if not deleted and proxy is None:
        return {"dependency": dependency, "action": "none: no latency injected"}
    dropped = drop_connections(dependency, url) if deleted else 0
    if proxy is not None:
        time.sleep(proxy.delay_s * 2)  # let replies already in the pipe arrive
        proxy.stop()
    name = f"dependency-latency/{dependency}"
    with contextlib.suppress(LookupError):  # the event was never opened: the injection failed early
        update_event(
            context.run_dir,
            name,
            ended_at=now(),
            details={"proxied_connections": proxy.connections if proxy else None},
        )
    return {"dependency": dependency, "rules_deleted": deleted, "connections_rerouted": dropped}

"""nginx for the local platform: find (or install) Debian's nginx and render its configuration.

One nginx routes `/api/users|trips|ai|locations/…` to an upstream of that service's replicas —
the paths the chart's Ingress serves — with a retry on the next replica when one refuses or fails
(`proxy_next_upstream`; no passive quarantine, see `UpstreamPolicy`), and keep-alive connections
to the replicas. It runs in the foreground (`daemon off`) under supervisord, with its
own prefix in the run directory, so it needs no root and touches nothing in /etc/nginx.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulation.backing.binaries import apt_install, auto_install_allowed
from simulation.backing.errors import BinariesMissingError
from simulation.profiles import SERVICE_PATHS

DEBIAN_NGINX = Path("/usr/sbin/nginx")
STUB_STATUS_PATH = "/stub_status"


class NginxMissing(RuntimeError):
    """nginx is not installed and could not be installed; the message says how to install it."""


def find_nginx(*, install: bool = True) -> Path:
    """The nginx binary; as root, `apt-get install nginx-light` (else `nginx`) when missing."""
    for candidate in (os.environ.get("TRIPGEN_NGINX"), shutil.which("nginx"), str(DEBIAN_NGINX)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    if not install or not auto_install_allowed():
        raise NginxMissing(
            "nginx is needed by the local platform and is not installed; install it with:\n"
            "  sudo apt-get install -y nginx-light   (or: nginx)"
        )
    # nginx-light left Debian after bookworm: fall back to the full package.
    for package in ("nginx-light", "nginx"):
        try:
            apt_install([package], why="the local platform's load balancer")
        except BinariesMissingError:
            continue
        if DEBIAN_NGINX.is_file():
            return DEBIAN_NGINX
    raise NginxMissing(
        "installing nginx with apt-get failed; install it by hand: apt-get install -y nginx"
    )


@dataclass(frozen=True)
class NginxPaths:
    """Everything nginx writes lives under `prefix` (`<run dir>/nginx`)."""

    prefix: Path

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def pid(self) -> Path:
        return self.prefix / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def temp(self, kind: str) -> Path:
        return self.prefix / "tmp" / kind

    def create(self) -> None:
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            self.temp(kind).mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class UpstreamPolicy:
    """Retries instead of quarantine. A request whose replica refuses the connection, times out,
    or answers 502/503 moves to the next replica, at most `tries` replicas; nginx never resends a
    POST/PATCH that already reached a replica. Passive health marking is off (`max_fails=0`):
    with it, a replica that failed once stayed out for `fail_timeout` even after supervisord had
    it back and ready within 2 s, and a second fault in that window (a zone outage right after a
    kill) left a service with "no live upstreams" — 502s while a ready replica existed. A dead
    replica costs a refused loopback connect (well under a millisecond) per attempt instead."""

    max_fails: int = 0
    fail_timeout_s: int = 5
    tries: int = 3
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 30.0
    # Idle upstream connections kept per worker. Their idle timeout stays below uvicorn's 5 s
    # keep-alive, so nginx never reuses a connection uvicorn is just closing.
    keepalive: int = 64
    keepalive_timeout_s: int = 4


HEALTH_NOT_ROUTED = json.dumps({
    "type": "about:blank", "title": "Not Found", "status": 404,
    "detail": "health is served by each replica at /actuator/health (liveness, readiness, "
    "startup), not through the gateway; the gateway answers /healthz",
})  # fmt: skip


# nginx's own errors (a body or URI over the limit, no replica answering, a slow replica) answer
# problem+json like the services, never nginx's HTML page. 502 (every replica refused or failed)
# is said as 503 with Retry-After: the service is down for the moment, try again. Errors a
# replica answers itself pass through untouched (no `proxy_intercept_errors`).
RETRY_AFTER_S = 5
GATEWAY_ERRORS: dict[str, tuple[int, str, str]] = {
    # nginx code(s): (answered status, title, detail)
    "400": (400, "Bad Request", "the request could not be parsed"),
    "494": (431, "Request Header Fields Too Large", "a request header is over the 16 KiB limit"),
    "408": (408, "Request Timeout", "the request was not received in time"),
    "413": (413, "Content Too Large", "the request body is over the 1 MiB limit"),
    "414": (414, "URI Too Long", "the request line is over the 16 KiB limit"),
    "500": (500, "Internal Server Error", "the gateway failed"),
    "502 503": (503, "Service Unavailable", "no replica of the service answered; retry shortly"),
    "504": (504, "Gateway Timeout", "the service did not answer in time"),
}


def problem_json(status: int, title: str, detail: str) -> str:
    """A problem body for nginx's single-quoted `return` text."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    if "'" in body:
        raise ValueError(f"a quote would end nginx's return text: {body}")
    return body


def _error_pages() -> str:
    """`error_page` directives and the internal locations answering them. Not named locations:
    an error met while reading the request line (414, 400) has no URI, and nginx cannot redirect
    such a request to a named location, only to a URI."""
    lines: list[str] = []
    for codes, (status, title, detail) in GATEWAY_ERRORS.items():
        name = f"/_gateway_problem/{status}"
        retry = (
            f"            add_header Retry-After {RETRY_AFTER_S} always;\n" if status == 503 else ""
        )
        lines.append(f"        error_page {codes} ={status} {name};\n")
        lines.append(
            f"        location = {name} {{\n"
            "            internal;\n"
            "            default_type application/problem+json;\n"
            f"{retry}"
            f"            return {status} '{problem_json(status, title, detail)}';\n"
            "        }\n"
        )
    return "".join(lines)


def _duration(seconds: float) -> str:
    return (
        f"{int(seconds * 1000)}ms" if seconds < 1 or seconds != int(seconds) else f"{int(seconds)}s"
    )


def _routes(
    upstreams: Mapping[str, Sequence[int]],
    policy: UpstreamPolicy,
    host: str,
    weights: Mapping[int, int] | None = None,
) -> tuple[list[str], list[str]]:
    """The upstream blocks and the locations routing each service's prefix to them; a port in
    `weights` gets that share of its service's requests (smooth weighted round robin)."""
    weights = weights or {}
    blocks: list[str] = []
    locations: list[str] = []
    for service, prefix in SERVICE_PATHS.items():
        ports = list(upstreams.get(service, ()))
        if ports:
            health = f" max_fails={policy.max_fails}" + (
                f" fail_timeout={policy.fail_timeout_s}s" if policy.max_fails else ""
            )
            servers = "".join(
                f"        server {host}:{port}"
                + (f" weight={weights[port]}" if port in weights else "")
                + f"{health};\n"
                for port in ports
            )
            blocks.append(
                f"    upstream {service} {{\n{servers}"
                f"        keepalive {policy.keepalive};\n"
                f"        keepalive_timeout {policy.keepalive_timeout_s}s;\n"
                "    }\n"
            )
            target = f"proxy_pass http://{service};"
        else:
            absent = problem_json(503, "Service Unavailable", f"{service}-service is not deployed")
            target = (
                "default_type application/problem+json;\n"
                f"            add_header Retry-After {RETRY_AFTER_S} always;\n"
                f"            return 503 '{absent}';"
            )
        # Exact `/api/users` and the `/api/users/` subtree, like the Ingress's Prefix path type
        # (which never matches `/api/usersfoo`).
        locations.append(
            f"        location = {prefix} {{\n            {target}\n        }}\n"
            f"        location {prefix}/ {{\n            {target}\n        }}\n"
        )
    return blocks, locations


def _status_server(host: str, port: int) -> str:
    return (
        f"    server {{\n        listen {host}:{port};\n"
        f"        location = {STUB_STATUS_PATH} {{\n            stub_status;\n        }}\n    }}\n"
    )


def render_nginx_conf(
    *,
    paths: NginxPaths,
    listen_port: int,
    upstreams: Mapping[str, Sequence[int]],
    policy: UpstreamPolicy | None = None,
    host: str = "127.0.0.1",
    worker_processes: int = 1,
    status_port: int | None = None,
    weights: Mapping[int, int] | None = None,
    upstream_header: bool = False,
) -> str:
    """nginx.conf routing each service's prefix to the replicas on `upstreams[service]` (ports on
    `host`). A service with no replicas answers 503 problem+json: it is not deployed. With
    `status_port`, `stub_status` answers there (for the nginx exporter), apart from users.
    `weights` (port → weight) split a service between versions during a rollout, and
    `upstream_header` adds `X-Upstream` (the replica that answered) to every answer."""
    policy = policy or UpstreamPolicy()
    status = _status_server(host, status_port) if status_port else ""
    blocks, locations = _routes(upstreams, policy, host, weights)
    answered_by = "    add_header X-Upstream $upstream_addr always;\n" if upstream_header else ""
    temp = "".join(
        f"    {kind}_temp_path {paths.temp(kind)};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# Generated by simulation/platforms/nginx.py for the local platform — do not edit.
daemon off;
worker_processes {worker_processes};
pid {paths.pid};
error_log {paths.error_log} warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    server_tokens off;
    default_type application/octet-stream;
{temp}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    # The client's address is the connection's, never a header the client sent: the services
    # key anonymous rate limits and lockout on it.
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_next_upstream error timeout http_502 http_503;
    proxy_next_upstream_tries {policy.tries};
    proxy_connect_timeout {_duration(policy.connect_timeout_s)};
    proxy_read_timeout {_duration(policy.read_timeout_s)};
    proxy_send_timeout {_duration(policy.read_timeout_s)};
    # No API body comes near 1 MiB; the longest request line is `?ids=` with 100 ids (13 KB).
    client_max_body_size 1m;
    large_client_header_buffers 4 16k;
{answered_by}
{"".join(blocks)}
    server {{
        listen {host}:{listen_port} backlog=4096;
{_error_pages()}
        location = /healthz {{
            default_type text/plain;
            return 200 "ok\\n";
        }}
        # Health is for the probes that reach each replica directly (the kubelet's, supervisord's
        # checks): behind the gateway it would report one arbitrary replica, so say where it is.
        location ~ ^/api/[a-z]+/actuator(/|$) {{
            default_type application/problem+json;
            return 404 '{HEALTH_NOT_ROUTED}';
        }}
{"".join(locations)}
        location / {{
            default_type application/problem+json;
            return 404 '{{"type":"about:blank","title":"Not Found","status":404}}';
        }}
    }}
{status}}}
"""


def check_config(nginx: Path, paths: NginxPaths) -> None:
    """`nginx -t` on the rendered file: a config error surfaces before anything starts."""
    proc = subprocess.run(
        [str(nginx), "-t", "-q", "-p", str(paths.prefix), "-c", str(paths.conf)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if proc.returncode != 0:
        raise ValueError(f"nginx rejected {paths.conf}:\n{proc.stderr.strip()}")


def command(nginx: Path, paths: NginxPaths) -> list[str]:
    """The foreground nginx command supervisord runs."""
    return [str(nginx), "-p", str(paths.prefix), "-c", str(paths.conf)]

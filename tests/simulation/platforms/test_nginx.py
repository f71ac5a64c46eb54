"""nginx config of the local platform: routes like the Ingress, retries, stub_status."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.backing import is_ci
from simulation.backing.processes import free_port
from simulation.platforms.nginx import (
    NginxMissing,
    NginxPaths,
    check_config,
    command,
    find_nginx,
    render_nginx_conf,
)

UPSTREAMS = {"user": [9001, 9002, 9003], "trip": [9011], "location": [9021, 9022]}


@pytest.fixture
def conf(tmp_path: Path) -> str:
    return render_nginx_conf(
        paths=NginxPaths(tmp_path / "nginx"), listen_port=8088, upstreams=UPSTREAMS
    )


def _block(conf: str, header: str) -> str:
    start = conf.index(header)
    return conf[start : conf.index("}", start)]


def test_one_upstream_per_deployed_service_never_quarantining_a_replica(conf: str) -> None:
    user = _block(conf, "upstream user {")
    # max_fails=0: a replica back after a kill is used at once (no fail_timeout window in
    # which a second fault would leave "no live upstreams").
    assert re.findall(r"server 127\.0\.0\.1:(\d+) max_fails=0;", user) == [
        "9001",
        "9002",
        "9003",
    ]
    assert "keepalive 64;" in user
    assert "keepalive_timeout 4s;" in user  # below uvicorn's 5 s keep-alive
    assert "upstream ai" not in conf  # not deployed


def test_retries_move_to_the_next_replica(conf: str) -> None:
    assert "proxy_next_upstream error timeout http_502 http_503;" in conf
    assert "proxy_next_upstream_tries 3;" in conf
    assert "proxy_connect_timeout 1s;" in conf
    assert 'proxy_set_header Connection "";' in conf  # keep-alive to upstreams
    assert "proxy_http_version 1.1;" in conf


def test_routes_match_the_ingress_prefixes(conf: str) -> None:
    for service, prefix in (
        ("user", "/api/users"),
        ("trip", "/api/trips"),
        ("location", "/api/locations"),
    ):
        assert f"location = {prefix} {{\n            proxy_pass http://{service};" in conf
        assert f"location {prefix}/ {{\n            proxy_pass http://{service};" in conf


def test_a_service_that_is_not_deployed_answers_503(conf: str) -> None:
    ai = _block(conf, "location /api/ai/ {")
    assert "return 503" in ai
    assert "ai-service is not deployed" in ai


def test_listens_on_loopback_in_the_foreground(conf: str, tmp_path: Path) -> None:
    assert "listen 127.0.0.1:8088" in conf
    assert conf.startswith("# Generated")
    assert "daemon off;" in conf
    assert f"pid {tmp_path / 'nginx' / 'nginx.pid'};" in conf


@pytest.fixture
def nginx_binary() -> Path:
    """The real nginx: installed when missing (as root); a failure, not a skip, in CI."""
    try:
        return find_nginx()
    except NginxMissing as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


def test_real_nginx_accepts_the_config(tmp_path: Path, nginx_binary: Path) -> None:
    binary = nginx_binary
    paths = NginxPaths(tmp_path / "nginx")
    paths.create()
    paths.conf.write_text(render_nginx_conf(paths=paths, listen_port=8088, upstreams=UPSTREAMS))
    check_config(binary, paths)  # `nginx -t`


def test_a_broken_config_is_reported(tmp_path: Path, nginx_binary: Path) -> None:
    binary = nginx_binary
    paths = NginxPaths(tmp_path / "nginx")
    paths.create()
    paths.conf.write_text("events {}\nhttp { upstream {\n")
    with pytest.raises(ValueError, match="nginx rejected"):
        check_config(binary, paths)


def test_missing_nginx_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPGEN_NGINX", "/nonexistent/nginx")
    monkeypatch.setattr("simulation.platforms.nginx.shutil.which", lambda name: None)
    monkeypatch.setattr("simulation.platforms.nginx.DEBIAN_NGINX", Path("/nonexistent/sbin/nginx"))
    with pytest.raises(NginxMissing, match="apt-get install -y nginx-light"):
        find_nginx(install=False)


def test_stub_status_answers_on_its_own_port_only(tmp_path: Path) -> None:
    conf = render_nginx_conf(
        paths=NginxPaths(tmp_path / "nginx"), listen_port=8088, upstreams=UPSTREAMS,
        status_port=8099,
    )  # fmt: skip
    status = conf[conf.index("listen 127.0.0.1:8099;") :]
    assert "location = /stub_status {\n            stub_status;" in status
    front = conf[conf.index("listen 127.0.0.1:8088") : conf.index("listen 127.0.0.1:8099;")]
    assert "stub_status" not in front


@pytest.fixture
def running_nginx(tmp_path: Path, nginx_binary: Path) -> Iterator[str]:
    """A real nginx with the rendered config on a free port (upstreams that nobody serves)."""
    paths = NginxPaths(tmp_path / "nginx")
    paths.create()
    port = free_port()
    paths.conf.write_text(render_nginx_conf(paths=paths, listen_port=port, upstreams=UPSTREAMS))
    proc = subprocess.Popen(command(nginx_binary, paths), stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "nginx did not answer /healthz within 10 s"
            time.sleep(0.05)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("service", ["users", "trips", "ai", "locations"])
def test_health_through_the_gateway_says_where_health_lives(
    running_nginx: str, service: str
) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{running_nginx}/api/{service}/actuator/health", timeout=5)
    assert answer.value.code == 404
    assert answer.value.headers["Content-Type"] == "application/problem+json"
    problem = json.loads(answer.value.read())
    assert problem["status"] == 404
    assert "/actuator/health" in problem["detail"] and "/healthz" in problem["detail"]


def test_the_client_address_is_the_connections_never_a_header(conf: str) -> None:
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "proxy_set_header X-Real-IP $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf


@pytest.fixture
def gateway(tmp_path: Path, nginx_binary: Path) -> Iterator[tuple[str, int]]:
    """A real nginx in front of a replica that answers 204 (or whatever the test serves) and a
    `user` upstream whose only replica is down; yields (base URL, the live replica's port)."""
    import http.server
    import threading

    class Replica(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(dict(self.headers.items())).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    replica = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Replica)
    threading.Thread(target=replica.serve_forever, daemon=True).start()
    live = replica.server_address[1]
    paths = NginxPaths(tmp_path / "nginx")
    paths.create()
    port = free_port()
    upstreams = {"user": [free_port()], "trip": [int(live)]}
    paths.conf.write_text(render_nginx_conf(paths=paths, listen_port=port, upstreams=upstreams))
    check_config(nginx_binary, paths)
    proc = subprocess.Popen(command(nginx_binary, paths), stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "nginx did not answer /healthz within 10 s"
            time.sleep(0.05)
    try:
        yield base, int(live)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        replica.shutdown()


def _problem(
    base: str,
    path: str,
    *,
    method: str = "GET",
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], object]:
    import httpx

    answer = httpx.request(method, base + path, content=content, headers=headers, timeout=10)
    return answer.status_code, dict(answer.headers), answer.json()


def test_gateway_errors_answer_problem_json(gateway: tuple[str, int]) -> None:
    base, _ = gateway
    status, headers, body = _problem(base, "/api/users/me")  # the only replica is down
    assert (status, headers["content-type"]) == (503, "application/problem+json")
    assert headers["retry-after"] == "5"
    assert body == {
        "type": "about:blank", "title": "Service Unavailable", "status": 503,
        "detail": "no replica of the service answered; retry shortly",
    }  # fmt: skip
    status, headers, body = _problem(base, "/api/trips/x", method="POST", content=b"x" * 2**21)
    assert (status, headers["content-type"]) == (413, "application/problem+json")
    status, headers, body = _problem(base, "/api/trips/?q=" + "a" * 20_000)
    assert (status, headers["content-type"]) == (414, "application/problem+json")
    status, headers, body = _problem(base, "/api/trips/", headers={"X-Big": "b" * 20_000})
    assert (status, headers["content-type"]) == (431, "application/problem+json")
    status, headers, body = _problem(base, "/api/ai/schedules/x")  # not deployed
    assert (status, headers["content-type"], headers["retry-after"]) == (
        503, "application/problem+json", "5",
    )  # fmt: skip
    assert isinstance(body, dict) and body["detail"] == "ai-service is not deployed"


def test_a_request_line_of_100_long_ids_still_passes(gateway: tuple[str, int]) -> None:
    base, _ = gateway
    status, _, _ = _problem(base, "/api/trips/?ids=" + ",".join(["p" * 128] * 100))
    assert status == 200


def test_a_client_cannot_choose_its_forwarded_address(gateway: tuple[str, int]) -> None:
    base, _ = gateway
    spoof = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"}
    status, _, seen = _problem(base, "/api/trips/", headers=spoof)
    assert status == 200 and isinstance(seen, dict)
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Real-IP"] == "127.0.0.1"

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

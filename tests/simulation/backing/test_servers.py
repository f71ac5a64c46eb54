"""Backing services: real servers that start, answer, stop, come back, leave nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from simulation.backing import (
    BackingServices,
    BinariesMissingError,
    child_pids,
    ensure_binaries,
    is_ci,
    remove_stale_workdirs,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def wait_until_gone(pids: list[int], timeout_s: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def owner_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


@pytest.fixture(scope="module")
def own_services() -> Iterator[BackingServices]:
    """A private pair, so stopping and restarting does not disturb the session servers."""
    with BackingServices() as services:
        yield services


def test_session_servers_answer_and_report_ready_time(
    backing: BackingServices, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(f"\n[backing] PostgreSQL + Redis ready in {backing.ready_s:.2f} s (target < 3 s)")
    assert backing.ready_s is not None
    assert backing.postgres.dsn == (
        f"postgresql://tripgen:tripgen@127.0.0.1:{backing.postgres.port}/tripgen"
    )
    assert backing.redis.url == f"redis://127.0.0.1:{backing.redis.port}/0"
    assert backing.environment() == {
        "TRIPGEN_DATABASE_URL": backing.postgres.dsn,
        "TRIPGEN_REDIS_URL": backing.redis.url,
    }


def test_postgis_and_trigram_work(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        # Seoul City Hall to Busan City Hall: about 325 km as the crow flies.
        (metres,) = conn.execute(
            "SELECT ST_Distance(ST_MakePoint(126.9780, 37.5665)::geography,"
            " ST_MakePoint(129.0756, 35.1796)::geography)"
        ).fetchone() or (None,)
        assert metres is not None
        assert 320_000 < metres < 330_000
        # C.UTF-8 locale: Hangul counts as letters, so trigram similarity sees Korean names.
        row = conn.execute("SELECT similarity('경복궁', '경복궁 근정전')").fetchone()
        assert row is not None
        (similarity,) = row
        assert similarity > 0.3


def test_tcp_login_needs_the_password(backing: BackingServices) -> None:
    pg = backing.postgres
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host=pg.host, port=pg.port, user=pg.user, password="wrong", dbname=pg.database
        )


def test_postgres_tuned_for_tests(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('fsync', 'synchronous_commit', 'full_page_writes', 'max_connections',"
                " 'listen_addresses')"
            ).fetchall()
        )
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "listen_addresses": "127.0.0.1",
    }


def test_redis_is_the_spec_dev_redis(clean_redis: str) -> None:
    client = redis.Redis.from_url(clean_redis, decode_responses=True)
    try:
        assert client.ping()
        assert client.dbsize() == 0
        assert client.config_get("maxmemory")["maxmemory"] == str(512 * 1024 * 1024)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
    finally:
        client.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to drop privileges")
def test_servers_run_unprivileged_when_root(own_services: BackingServices) -> None:
    for pid in (own_services.postgres.pid, own_services.redis.pid):
        assert pid is not None
        assert owner_uid(pid) != 0


def test_redis_stop_and_start_keep_the_address(own_services: BackingServices) -> None:
    server = own_services.redis
    port, pid = server.port, server.pid
    server.stop()
    assert not server.is_running()
    assert pid is not None
    assert not alive(pid)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host=server.host, port=port, retry=Retry(NoBackoff(), 0)).ping()
    server.start()
    assert server.port == port
    client = redis.Redis.from_url(server.url)
    try:
        assert client.set("back", "1")
    finally:
        client.close()


def test_postgres_restart_keeps_address_and_data(own_services: BackingServices) -> None:
    server = own_services.postgres
    port = server.port
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survives (n int)")
        conn.execute("INSERT INTO survives VALUES (42)")
    server.stop()
    assert not server.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn, connect_timeout=2)
    server.start()
    assert server.port == port
    with psycopg.connect(server.dsn) as conn:
        assert conn.execute("SELECT n FROM survives").fetchall() == [(42,)]
    server.restart()
    assert server.port == port
    assert server.is_running()


def test_stop_leaves_no_process_and_no_directory() -> None:
    services = BackingServices()
    services.start()
    postmaster, redis_pid = services.postgres.pid, services.redis.pid
    assert postmaster is not None
    assert redis_pid is not None
    conn = psycopg.connect(services.postgres.dsn, autocommit=True)  # a backend of our own
    try:
        conn.execute("SELECT 1")
        backends = child_pids(postmaster)
        assert len(backends) > 1, "a postmaster with a client has its backend + helpers"
        services.stop()  # fast shutdown disconnects the client
    finally:
        conn.close()
    pids = [postmaster, redis_pid, *backends]
    assert wait_until_gone(pids, timeout_s=0.0) == []
    assert not services.workdir.exists()
    services.stop()  # idempotent


def test_missing_binaries_name_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPGEN_PG_BINDIR", "/nonexistent/postgresql/bin")
    monkeypatch.setenv("TRIPGEN_REDIS_SERVER", "/nonexistent/redis-server")
    with pytest.raises(BinariesMissingError) as caught:
        ensure_binaries(install=False)
    message = str(caught.value)
    assert "apt-get install -y postgresql-15 postgresql-15-postgis-3 redis-server" in message
    assert "/nonexistent/postgresql/bin/initdb" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("TRUE", True), ("false", False), ("", False), ("0", False)],
)
def test_ci_detection(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert is_ci() is expected


def run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "simulation.backing", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_started(process: subprocess.Popen[str]) -> dict[str, str]:
    """The CLI's start-up lines: pids, work directory and the two URLs."""
    assert process.stdout is not None
    found: dict[str, str] = {}
    for line in process.stdout:
        if " pid " in line:
            found[line.split()[0]] = line.rsplit(" ", 1)[-1].strip()
        if line.startswith("work directory "):
            found["workdir"] = line.split()[2].rstrip(";")
        if "=" in line and line.startswith("TRIPGEN_"):
            name, value = line.strip().split("=", 1)
            found[name] = value
        if line.startswith("Ctrl-C"):
            return found
    stderr = process.stderr.read() if process.stderr else ""
    raise AssertionError(f"CLI ended before it was ready: {stderr}")


def test_cli_ensure_reports_the_binaries() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulation.backing", "ensure", "--no-install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "postgres (PostgreSQL) 15" in result.stdout
    assert "Redis server v=" in result.stdout


def test_cli_run_serves_until_interrupted() -> None:
    process = run_cli("run")
    try:
        started = read_started(process)
        client = redis.Redis.from_url(started["TRIPGEN_REDIS_URL"])
        assert client.ping()
        client.close()
        with psycopg.connect(started["TRIPGEN_DATABASE_URL"]) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    pids = [int(started["PostgreSQL"]), int(started["Redis"])]
    assert wait_until_gone(pids, timeout_s=0.0) == []
    assert not Path(started["workdir"]).exists()


def test_servers_die_when_their_owner_is_killed() -> None:
    process = run_cli("run")
    try:
        started = read_started(process)
        process.kill()  # SIGKILL: no atexit, no cleanup; only the parent-death signal remains
        process.wait(timeout=10)
        pids = [int(started["PostgreSQL"]), int(started["Redis"])]
        assert wait_until_gone(pids, timeout_s=15.0) == [], "servers outlived their owner"
        # The data survived its owner; the next start clears it away.
        workdir = Path(started["workdir"])
        assert workdir.exists()
        assert workdir in remove_stale_workdirs(workdir.parent)
        assert not workdir.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if "workdir" in started:
            shutil.rmtree(started["workdir"], ignore_errors=True)


def test_stale_workdir_sweep_spares_live_and_unmarked_directories(tmp_path: Path) -> None:
    live = tmp_path / "tripgen-backing-live"
    unmarked = tmp_path / "tripgen-backing-kept"
    dead = tmp_path / "tripgen-backing-dead"
    for path in (live, unmarked, dead):
        path.mkdir()
    (live / "owner.pid").write_text(f"{os.getpid()}\n")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    (dead / "owner.pid").write_text(finished.stdout)
    assert remove_stale_workdirs(tmp_path) == [dead]
    assert live.exists()
    assert unmarked.exists()


FIXTURE_USER = """
def test_needs_servers(postgres_dsn):
    assert postgres_dsn
"""


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_missing_servers_fail_in_ci_and_skip_elsewhere(
    tmp_path: Path, ci: str, outcome: str
) -> None:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_user.py").write_text(FIXTURE_USER)
    env = {
        **os.environ,
        "CI": ci,
        "TRIPGEN_AUTO_INSTALL": "0",  # never let this test run apt-get
        "TRIPGEN_PG_BINDIR": "/nonexistent/postgresql/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert outcome in result.stdout, result.stdout
    assert "apt-get install -y postgresql-15" in result.stdout

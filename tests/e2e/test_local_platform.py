"""The local platform end to end: deploy-prod-sim, the user journey through nginx, a killed replica,
and `down` leaving no process and no listening port; an interrupted and a failed deploy leave
nothing behind either.

Everything goes through `python -m simulation.cli` in child processes, as a user types it, with
its own run directory. Steps whose service package does not exist yet are skipped (and say so).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulation.backing import BinariesMissingError, ensure_binaries, is_ci
from simulation.platforms import procfs
from simulation.platforms.local import LocalPlatform
from simulation.platforms.local_plan import LocalPlan

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-password-2024"


def service_missing(service: str) -> str | None:
    """Why `service` cannot be exercised yet, or None when its package is there."""
    folder = REPO_ROOT / "services" / service
    if (folder / "app.py").is_file() and (folder / "__main__.py").is_file():
        return None
    return f"services/{service} has no app yet (being written); step skipped"


def cli(run_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulation.cli", "--run-dir", str(run_dir), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=timeout,
        check=False,
    )


@dataclass
class WatchedDeploy:
    """A deploy run as a child process while its state.json is watched, so the test knows the
    run id and ports even after a failed deploy has removed the record."""

    returncode: int
    output: str
    run_id: str | None = None
    ports: set[int] = field(default_factory=set)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def watched_deploy(
    run_dir: Path,
    *args: str,
    interrupt_when: Path | None = None,
    again_when_said: str | None = None,
    timeout: float = 120,
) -> WatchedDeploy:
    """Run `deploy args…`; send SIGINT (Ctrl-C) once `interrupt_when` exists, if given, and a
    second one once the output says `again_when_said`, if given."""
    # Output goes to a file, not a pipe: nobody reads a pipe while we watch, and a deploy (or
    # its clean-up) blocked on a full pipe could never finish.
    output_path = run_dir.parent / f"{run_dir.name}-deploy.out"
    output_file = output_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation.cli", "--run-dir", str(run_dir), "deploy", *args],
        stdout=output_file,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        # A background job of a non-interactive shell (e.g. a CI runner) inherits SIGINT as
        # ignored, and Python keeps it so: restore the default, as a terminal's Ctrl-C has it.
        preexec_fn=_default_sigint,
    )
    watched = WatchedDeploy(returncode=-1, output="")
    deadline = time.monotonic() + timeout
    interrupted = False
    while proc.poll() is None:
        try:
            plan = json.loads((run_dir / "state.json").read_text())["details"]["plan"]
            watched.run_id = plan["run_id"]
            watched.ports = LocalPlan.from_dict(plan).ports()
        except (OSError, ValueError, KeyError):
            pass
        if interrupt_when is not None and not interrupted and interrupt_when.exists():
            proc.send_signal(signal.SIGINT)
            interrupted = True
        elif again_when_said and interrupted and again_when_said in output_path.read_text():
            proc.send_signal(signal.SIGINT)  # pressed twice
            again_when_said = None
        if time.monotonic() > deadline:
            proc.kill()
            output_file.close()
            pytest.fail(
                f"deploy did not finish within {timeout} s; output:\n{output_path.read_text()}"
            )
        time.sleep(0.02)
    output_file.close()
    watched.returncode = proc.returncode
    watched.output = output_path.read_text()
    return watched


def assert_nothing_left(run_id: str | None, ports: set[int]) -> None:
    assert run_id, "the deploy never recorded its plan"
    assert procfs.pids_with_env("TRIPGEN_RUN_ID", run_id) == []
    assert ports, "the deploy never recorded its ports"
    assert ports & procfs.listening_ports() == set()


@pytest.fixture(scope="module", autouse=True)
def binaries() -> None:
    try:
        ensure_binaries()
    except BinariesMissingError as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


# --------------------------------------------------------------------------- deploy-prod-sim


@dataclass
class Deployment:
    run_dir: Path
    base_url: str
    plan: dict[str, Any]
    deploy_s: float
    client: httpx.Client
    token: str = ""
    trip_id: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    run_dir = tmp_path_factory.mktemp("prod-sim")
    began = time.monotonic()
    # The per-user rate limit (100/min) is the gateway's; this test checks the platform.
    result = cli(
        run_dir,
        "deploy", "--profile", "prod", "--platform", "local",
        "--env", "TRIPGEN_RATE_LIMIT_PER_MINUTE=0",
        timeout=180,
    )  # fmt: skip
    deploy_s = time.monotonic() - began
    try:
        assert result.returncode == 0, result.stderr
        state = json.loads((run_dir / "state.json").read_text())
        with httpx.Client(base_url=state["base_url"], timeout=15) as client:
            yield Deployment(run_dir, state["base_url"], state["details"]["plan"], deploy_s, client)
    finally:
        if (run_dir / "state.json").exists():  # a failed test must not leave the deployment
            cli(run_dir, "down")


def test_deploy_prod_runs_every_replica_behind_nginx(deployment: Deployment) -> None:
    print(f"cold deploy-prod-sim: {deployment.deploy_s:.1f} s")
    replicas = deployment.plan["replicas"]
    deployed = {r["service"] for r in replicas}
    expected = {"user": 3, "trip": 3, "ai": 2, "location": 2}
    for service, count in expected.items():
        if service_missing(service):
            assert service not in deployed
            continue
        placed = [r for r in replicas if r["service"] == service]
        assert len(placed) == count
        assert [r["zone"] for r in placed] == ["zone-1", "zone-2", "zone-3"][:count]
    status = cli(deployment.run_dir, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert all(r["ready"] for r in json.loads(status.stdout)["replicas"])
    assert deployment.client.get("/healthz").status_code == 200


def test_register_and_log_in_through_nginx(deployment: Deployment) -> None:
    email = f"e2e-{time.time_ns()}@example.org"
    r = deployment.client.post(
        "/api/users/register", json={"email": email, "password": PASSWORD, "name": "E2E"}
    )
    assert r.status_code == 201, r.text
    r = deployment.client.post("/api/users/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    deployment.token = r.json()["access_token"]
    me = deployment.client.get("/api/users/me", headers=deployment.auth)
    assert me.status_code == 200
    assert me.json()["email"] == email


def test_search_places(deployment: Deployment) -> None:
    if why := service_missing("location"):
        pytest.skip(why)
    r = deployment.client.get(
        "/api/locations/places/search",
        params={"city": "Seoul", "category": "culture", "limit": 5},
        headers=deployment.auth,
    )
    assert r.status_code == 200, r.text
    assert r.json()["count"] > 0  # the sample data set was loaded


def test_create_a_trip(deployment: Deployment) -> None:
    for service in ("trip", "location"):
        if why := service_missing(service):
            pytest.skip(why)
    start = date.today() + timedelta(days=30)
    r = deployment.client.post(
        "/api/trips",
        json={
            "title": "E2E Seoul",
            "destination_city": "Seoul",
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=2)).isoformat(),
        },
        headers=deployment.auth,
    )
    assert r.status_code == 201, r.text
    deployment.trip_id = r.json()["id"]


def test_request_a_schedule_and_read_it_back(deployment: Deployment) -> None:
    for service in ("trip", "location", "ai"):
        if why := service_missing(service):
            pytest.skip(why)
    assert deployment.trip_id, "needs the trip of test_create_a_trip"
    base = f"/api/trips/{deployment.trip_id}/schedules"
    r = deployment.client.post(base, headers=deployment.auth)
    assert r.status_code == 202, r.text
    schedule_id = r.json()["schedule_id"]
    deadline = time.monotonic() + 30
    while True:
        r = deployment.client.get(f"{base}/{schedule_id}", headers=deployment.auth)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    body = r.json()
    assert body["status"] == "done", body
    assert body["itinerary"]


def test_a_killed_replica_costs_no_request_and_comes_back(deployment: Deployment) -> None:
    killed = cli(deployment.run_dir, "kill-replica", "user")
    assert killed.returncode == 0, killed.stderr
    victim = json.loads(killed.stdout)
    assert victim["service"] == "user"
    # Right after the SIGKILL: nginx skips the dead replica (connection refused → next upstream).
    codes = [
        deployment.client.get("/api/users/me", headers=deployment.auth).status_code
        for _ in range(40)
    ]
    assert codes == [200] * 40
    platform = LocalPlatform(deployment.run_dir)
    deadline = time.monotonic() + 30
    while True:
        back = next(r for r in platform.status().replicas if r.replica == victim["replica"])
        if back.ready and back.pid not in (None, victim["pid"]):
            break
        assert time.monotonic() < deadline, f"{victim['replica']} did not come back: {back}"
        time.sleep(0.2)
    assert deployment.client.get("/api/users/me", headers=deployment.auth).status_code == 200


def test_a_zone_outage_is_absorbed_and_restored(deployment: Deployment) -> None:
    outage = cli(deployment.run_dir, "zone-outage", "zone-2")
    assert outage.returncode == 0, outage.stderr
    stopped = json.loads(outage.stdout)
    assert "user-2" in stopped
    codes = [
        deployment.client.get("/api/users/me", headers=deployment.auth).status_code
        for _ in range(20)
    ]
    assert codes == [200] * 20  # zone-1 and zone-3 replicas carry the traffic
    status = json.loads(cli(deployment.run_dir, "status", "--json").stdout)
    assert status["zones_down"] == ["zone-2"]
    replicas = {r["replica"] for r in status["replicas"]}
    assert {r["replica"] for r in status["replicas"] if not r["ready"]} == set(stopped) & replicas
    # prod-sim's data-store members in zone-2 went with it (the standby, the Redis replica and a
    # Sentinel); the primaries in zone-1 stayed, so nothing failed over.
    members = {d["name"]: d for d in status["dependencies"]}
    assert set(stopped) - replicas == {"pg-2", "redis-2", "sentinel-2"}
    assert all(members[m]["role"] == "lost" for m in ("pg-2", "redis-2", "sentinel-2"))
    assert members["pg-1"]["role"] == "primary" and members["redis-1"]["role"] == "primary"
    restored = cli(deployment.run_dir, "restore", "zone-2")
    assert restored.returncode == 0, restored.stderr
    status = json.loads(cli(deployment.run_dir, "status", "--json").stdout)
    assert status["zones_down"] == []
    assert all(r["ready"] for r in status["replicas"])
    roles = {d["name"]: d["role"] for d in status["dependencies"]}
    assert roles["pg-2"] == "standby" and roles["redis-2"] == "replica"


def test_down_leaves_no_process_and_no_listening_port(deployment: Deployment) -> None:
    result = cli(deployment.run_dir, "down")
    assert result.returncode == 0, result.stderr
    plan = deployment.plan
    # Every port: replicas, nginx, the HA members and monitoring of prod-sim.
    ports = LocalPlan.from_dict(plan).ports()
    assert len(ports) > len(plan["replicas"]) + 8
    assert_nothing_left(plan["run_id"], ports)
    assert not Path(plan["backing_dir"]).exists()
    assert not (deployment.run_dir / "state.json").exists()
    again = cli(deployment.run_dir, "status")
    assert again.returncode == 1
    assert "nothing is deployed" in again.stderr


# --------------------------------------------------------------------------- failures


def interrupted_deploy(run_dir: Path, again_when_said: str | None = None) -> WatchedDeploy:
    """A deploy of user-service interrupted once its first replica has been started (its log
    file appears). The replica is pointed at a database that does not exist, so it never turns
    ready and the deploy is still waiting when the interrupt lands, however fast the machine is."""
    return watched_deploy(
        run_dir,
        "--profile", "dev", "--platform", "local", "--services", "user",
        "--env", "TRIPGEN_USER_DATABASE_URL=postgresql://nobody:x@127.0.0.1:9/none",
        interrupt_when=run_dir / "logs" / "user-1.log",
        again_when_said=again_when_said,
    )  # fmt: skip


def test_ctrl_c_during_deploy_leaves_nothing(tmp_path: Path) -> None:
    watched = interrupted_deploy(tmp_path)
    assert watched.returncode == 130, watched.output
    assert "interrupted" in watched.output
    assert_nothing_left(watched.run_id, watched.ports)
    assert not (tmp_path / "state.json").exists()


def test_a_second_ctrl_c_after_the_clean_up_does_not_kill_the_exit(tmp_path: Path) -> None:
    # Once it says "interrupted" the clean-up is done: a second Ctrl-C must leave exit code 130
    # (not death by SIGINT, which a calling script would read as a crash).
    watched = interrupted_deploy(tmp_path, again_when_said="interrupted")
    assert watched.returncode == 130, watched.output
    assert_nothing_left(watched.run_id, watched.ports)


def test_a_failed_start_leaves_nothing(tmp_path: Path) -> None:
    # An invalid setting for user-service alone: its replica exits during start-up.
    watched = watched_deploy(
        tmp_path,
        "--profile", "dev", "--platform", "local", "--services", "user",
        "--env", "TRIPGEN_USER_LOG_LEVEL=LOUD",
    )  # fmt: skip
    assert watched.returncode == 1, watched.output
    assert "user-1" in watched.output
    assert "keep exiting while starting" in watched.output
    assert "Traceback (most recent call last)" not in watched.output.split("error:")[0]
    assert_nothing_left(watched.run_id, watched.ports)
    assert not (tmp_path / "state.json").exists()


@pytest.fixture(autouse=True)
def _no_inherited_run_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test passes --run-dir; a TRIPGEN_RUN_DIR of the caller's shell must not interfere.
    monkeypatch.delenv("TRIPGEN_RUN_DIR", raising=False)
    os.environ.pop("TRIPGEN_RUN_DIR", None)

"""Expand → migrate → contract, held: the previous release's code runs against the schema this
tree's migrations make (during a rollout both versions share one database).

"Previous release" is the parent of the newest commit that changed a migration set — the code
that ran before the newest schema change — checked out and installed apart
(`local_release.prepare_release`), its user and location services started from their own venv
against a database migrated by this tree's `services.datainit schema`, then asked what users ask
(register, log in, profile, cities). A migration that renamed or dropped what the old code reads
(a contract step shipped too early) fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulation.backing.processes import fixed_ports
from simulation.platforms.local_release import Release, ReleaseError, prepare_release, resolve

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("user", "location")
MIGRATION_DIRS = [f"services/{s}/migrations" for s in ("user", "trip", "ai", "location")]


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


def previous_release(scratch: Path) -> str:
    """The newest commit before the newest schema change (HEAD when this working tree's
    migrations differ from HEAD's) whose services import — a commit that does not is no
    release (a partial commit in a shared tree)."""
    if _git("status", "--porcelain", "--", *MIGRATION_DIRS):
        start = resolve("HEAD")
    else:
        start = resolve(_git("log", "-1", "--format=%H", "--", *MIGRATION_DIRS) + "^")
    for commit in _git("rev-list", "--max-count=20", start).split():
        if _imports(commit, scratch / commit[:12]):
            return commit
    raise ReleaseError(f"none of the 20 commits from {start[:12]} imports its services")


def _imports(commit: str, directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", commit, "services"],
                             capture_output=True, check=True, timeout=60)  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True)
    apps = "; ".join(f"import services.{s}.app" for s in SERVICES)
    env = {**os.environ, "PYTHONPATH": str(directory)}
    done = subprocess.run([sys.executable, "-P", "-c", apps], cwd=directory, env=env,
                          capture_output=True, timeout=120)  # fmt: skip
    return done.returncode == 0


def migrations(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix() for d in MIGRATION_DIRS for p in (root / d).glob("*.sql")
    }


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Release:
    try:
        ref = previous_release(tmp_path_factory.mktemp("candidates"))
    except (ReleaseError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no previous release in this clone's history (shallow?): {exc}")
    return prepare_release(ref, root=tmp_path_factory.mktemp("releases"))


def _env(postgres_dsn: str, redis_url: str, base: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIPGEN_", "PYTHONPATH"))}
    env.update(TRIPGEN_PROFILE="dev", TRIPGEN_DATABASE_URL=postgres_dsn,
               TRIPGEN_REDIS_URL=redis_url, TRIPGEN_HOST="127.0.0.1",
               TRIPGEN_RATE_LIMIT_PER_MINUTE="0")  # fmt: skip
    env.update({f"TRIPGEN_{s.upper()}_URL": base for s in ("user", "trip", "ai", "location")})
    return env


@pytest.fixture(scope="module")
def old_services(
    previous: Release, postgres_dsn: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    # This tree's migrations first: the new schema the old code must live with.
    env = _env(postgres_dsn, redis_url, "http://127.0.0.1:1")
    subprocess.run([sys.executable, "-m", "services.datainit", "schema"], env=env, cwd=REPO_ROOT,
                   check=True, capture_output=True, timeout=180)  # fmt: skip
    ports = dict(zip(SERVICES, fixed_ports(len(SERVICES)), strict=True))
    logs = tmp_path_factory.mktemp("old-services")
    procs = []
    for service, port in ports.items():
        service_env = {**_env(postgres_dsn, redis_url, f"http://127.0.0.1:{ports['user']}"),
                       "TRIPGEN_PORT": str(port), "PYTHONPATH": str(previous.checkout)}  # fmt: skip
        with (logs / f"{service}.log").open("wb") as out:
            procs.append(subprocess.Popen(
                [str(previous.python), "-P", "-m", f"services.{service}"], env=service_env,
                cwd=previous.checkout, stdout=out, stderr=subprocess.STDOUT,
            ))  # fmt: skip
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    try:
        for service, url in urls.items():
            _wait_ready(url, logs / f"{service}.log")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def _wait_ready(url: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/actuator/health/readiness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready in {timeout_s:.0f} s; log:\n{log.read_text()[-3000:]}")


def test_the_new_schema_is_newer_than_the_previous_releases(previous: Release) -> None:
    ours, theirs = migrations(REPO_ROOT), migrations(previous.checkout)
    assert theirs < ours or theirs != ours, "the previous release has this tree's migrations"
    # Expand only: every migration the previous release knew is still here, unchanged.
    for name in theirs:
        assert (REPO_ROOT / name).read_text() == (previous.checkout / name).read_text(), name


def test_previous_release_serves_users_on_the_new_schema(old_services: dict[str, str]) -> None:
    user, location = old_services["user"], old_services["location"]
    email = f"compat-{time.time_ns()}@example.com"
    password = "Compat-password-2024"
    account = {"email": email, "password": password, "name": "compat"}
    made = httpx.post(f"{user}/api/users/register", json=account, timeout=10)
    assert made.status_code == 201, made.text
    login = httpx.post(f"{user}/api/users/login", json={"email": email, "password": password},
                       timeout=10)  # fmt: skip
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = httpx.get(f"{user}/api/users/me", headers=headers, timeout=10)
    assert me.status_code == 200 and me.json()["email"] == email
    cities = httpx.get(f"{location}/api/locations/cities", headers=headers, timeout=10)
    assert cities.status_code == 200, cities.text

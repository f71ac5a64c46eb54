"""Black-box security probes through nginx on the local platform, as an attacker sees it.

One deployment per profile per session (`deploy --platform local`, like tests/e2e), shared by every
module here: `gateway` is the prod profile, `dev_gateway` the dev one. Nothing is faked: the
probes reach real replicas behind nginx, with real PostgreSQL and Redis.

The gateway's limits stay on (they are part of what is probed), so account helpers wait out a
429 on the anonymous routes (register, login, refresh share one per-address budget) instead of
failing, and tests create as few accounts as they need.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulation.backing import BinariesMissingError, ensure_binaries, is_ci

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "security-probe-2024"
# services.datainit's dev sample set, which the local platform loads (prod-sim too).
SAMPLE_PASSWORD = "tripgen-dev-2024"
SAMPLE_ADMIN = "admin@tripgen.dev"
DEPLOY_TIMEOUT_S = 240
MAX_WAIT_FOR_LIMIT_S = 65  # one rate-limit window and a bit


def cli(run_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m simulation.cli --run-dir RUN_DIR args…`, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "simulation.cli", "--run-dir", str(run_dir), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=timeout,
        check=False,
    )


@dataclass
class Account:
    """A registered user and the tokens of its last login (or refresh)."""

    email: str
    password: str
    user_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Gateway:
    """A deployed local platform, reached through its nginx."""

    profile: str
    run_dir: Path
    base_url: str
    plan: dict[str, Any]
    client: httpx.Client
    _admin: Account | None = field(default=None, repr=False)

    @property
    def jwt_secret(self) -> str:
        """The deployment's own signing key (generated per deployment): what a forger lacks."""
        return str(self.plan["jwt_secret"])

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; on an anonymous route's 429, wait for the window as a patient client."""
        deadline = time.monotonic() + MAX_WAIT_FOR_LIMIT_S
        while True:
            response = self.client.request(method, path, **kwargs)
            anonymous = "authorization" not in {k.lower() for k in kwargs.get("headers") or {}}
            if response.status_code != 429 or not anonymous or time.monotonic() > deadline:
                return response
            if "rate limit" not in response.text:
                return response  # a lockout, not the per-address limit: the caller judges it
            time.sleep(min(float(response.headers.get("Retry-After", "5")), 10.0))

    def register(self, prefix: str = "probe") -> Account:
        """A new account, logged in."""
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"
        r = self.request(
            "POST",
            "/api/users/register",
            json={"email": email, "password": PASSWORD, "name": prefix},
        )
        assert r.status_code == 201, r.text
        return self.login(email, PASSWORD)

    def login(self, email: str, password: str) -> Account:
        r = self.request("POST", "/api/users/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        tokens = r.json()
        me = self.client.get(
            "/api/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200, me.text
        return Account(
            email=email,
            password=password,
            user_id=me.json()["id"],
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )

    def admin(self) -> Account:
        """The sample data's ADMIN, logged in once per session."""
        if self._admin is None:
            self._admin = self.login(SAMPLE_ADMIN, SAMPLE_PASSWORD)
        return self._admin

    def create_trip(self, owner: Account, **overrides: Any) -> dict[str, Any]:
        payload = {
            "title": "Probe trip",
            "destination_city": "Seoul",
            "start_date": "2031-04-01",
            "end_date": "2031-04-02",
            **overrides,
        }
        r = self.client.post("/api/trips", json=payload, headers=owner.headers)
        assert r.status_code == 201, r.text
        return r.json()


class Deployments:
    """Local platforms deployed on first use, one per profile, all taken down at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.deployed: dict[str, Gateway] = {}

    def get(self, profile: str) -> Gateway:
        if profile not in self.deployed:
            self.deployed[profile] = self._deploy(profile)
        return self.deployed[profile]

    def _deploy(self, profile: str) -> Gateway:
        run_dir = self.root / f"security-{profile}"
        run_dir.mkdir(parents=True, exist_ok=True)
        result = cli(
            run_dir, "deploy", "--profile", profile, "--platform", "local",
            timeout=DEPLOY_TIMEOUT_S,
        )  # fmt: skip
        if result.returncode != 0:
            if (run_dir / "state.json").exists():
                cli(run_dir, "down")
            pytest.fail(f"deploy --profile {profile} failed:\n{result.stderr[-4000:]}")
        state = json.loads((run_dir / "state.json").read_text())
        client = httpx.Client(base_url=state["base_url"], timeout=30)
        return Gateway(profile, run_dir, state["base_url"], state["details"]["plan"], client)

    def down(self) -> None:
        for gateway in self.deployed.values():
            gateway.client.close()
            if (gateway.run_dir / "state.json").exists():
                cli(gateway.run_dir, "down")


@pytest.fixture(scope="session")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Gateway]]:
    """deployments(profile) → the Gateway of that profile's local platform (deployed once)."""
    try:
        ensure_binaries()
    except BinariesMissingError as exc:
        if is_ci():
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    platforms = Deployments(tmp_path_factory.mktemp("security"))
    try:
        yield platforms.get
    finally:
        platforms.down()


@pytest.fixture(scope="session")
def gateway(deployments: Callable[[str], Gateway]) -> Gateway:
    """The prod profile through nginx: what deploy-aks would push."""
    return deployments("prod")


@pytest.fixture(scope="session")
def dev_gateway(deployments: Callable[[str], Gateway]) -> Gateway:
    """The dev profile through nginx."""
    return deployments("dev")

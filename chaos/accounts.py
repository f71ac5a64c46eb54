"""The users chaos traffic runs as: registered once per run folder, logged in on demand.

Every API route but health, register and login needs a bearer token, and the API limits each
user to 100 requests a minute (SPEC.md, gateway limit), so traffic is spread over several
named accounts ("traffic-1", "writer", …), each well under that limit. Accounts are kept in the
run folder (`chaos_accounts.json`) so later experiments of the run reuse them instead of
registering again (anonymous routes are rate-limited per client address too).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ACCOUNTS_FILE = "chaos_accounts.json"
# Access tokens live 15 minutes (services.kit.settings); log in again well before that.
TOKEN_REFRESH_S = 600.0
_lock = threading.Lock()


class AccountError(RuntimeError):
    """A chaos account could not be registered or logged in (the deployment is not serving)."""


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    token: str
    issued_at: float

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self.issued_at < TOKEN_REFRESH_S


_tokens: dict[tuple[str, str], Account] = {}


def _load(run_dir: Path) -> dict[str, Credentials]:
    path = run_dir / ACCOUNTS_FILE
    if not path.exists():
        return {}
    raw = json.loads(path.read_text("utf-8"))
    return {name: Credentials(**value) for name, value in raw.items()}


def _save(run_dir: Path, accounts: dict[str, Credentials]) -> None:
    path = run_dir / ACCOUNTS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: asdict(v) for k, v in accounts.items()}, indent=2), "utf-8")
    tmp.chmod(0o600)  # passwords of throw-away accounts, still not for everyone's eyes
    tmp.replace(path)


def _register(client: httpx.Client, name: str) -> Credentials:
    suffix = secrets.token_hex(6)
    credentials = Credentials(
        email=f"chaos-{name}-{suffix}@example.com", password=f"Chaos-{secrets.token_hex(8)}-9"
    )
    response = client.post(
        "/api/users/register",
        json={"email": credentials.email, "password": credentials.password, "name": name},
    )
    if response.status_code != 201:
        raise AccountError(
            f"register {credentials.email}: HTTP {response.status_code} {response.text[:200]}"
        )
    return credentials


def _login(client: httpx.Client, credentials: Credentials) -> str | None:
    response = client.post(
        "/api/users/login", json={"email": credentials.email, "password": credentials.password}
    )
    if response.status_code == 401:
        return None  # unknown here: the deployment was replaced since the account was made
    if response.status_code != 200:
        raise AccountError(
            f"login {credentials.email}: HTTP {response.status_code} {response.text[:200]}"
        )
    return str(response.json()["access_token"])


def account(base_url: str, run_dir: Path, name: str, *, timeout_s: float = 10.0) -> Account:
    """A logged-in account called `name` (registered on first use), token fresh."""
    key = (str(run_dir), name)
    with _lock:
        cached = _tokens.get(key)
        if cached is not None and cached.fresh:
            return cached
        known = _load(run_dir)
        with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
            credentials = known.get(name)
            token = _login(client, credentials) if credentials else None
            if token is None:
                credentials = _register(client, name)
                known[name] = credentials
                _save(run_dir, known)
                token = _login(client, credentials)
                if token is None:
                    raise AccountError(f"login of the just registered {credentials.email} failed")
        assert credentials is not None
        fresh = Account(name, credentials.email, token, time.monotonic())
        _tokens[key] = fresh
        return fresh


def forget_token(run_dir: Path, name: str) -> None:
    """Drop a cached token (after a 401), so the next `account` call logs in again."""
    with _lock:
        _tokens.pop((str(run_dir), name), None)


# SPEC.md (002): 100 requests/min per user. The API counts fixed minutes; spending at most this
# many in any rolling 60 s keeps every fixed minute under the limit with room for a retry.
PER_MINUTE_BUDGET = 80
WINDOW_S = 60.0


class AccountPool:
    """Accounts `<prefix>-1`, `<prefix>-2`, … for one kind of traffic of one experiment, each
    handed out only while it has spent fewer than `per_minute` requests in the last minute;
    a new account is registered when all are at their budget. So no experiment's traffic is
    ever refused with 429 however fast its probes poll, and experiments never share one."""

    def __init__(
        self, base_url: str, run_dir: Path, prefix: str, per_minute: int = PER_MINUTE_BUDGET
    ) -> None:
        self.base_url = base_url
        self.run_dir = run_dir
        self.prefix = prefix
        self.per_minute = per_minute
        self._spent: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def take(self) -> Account:
        """An account with budget left; the request about to be made is charged to it."""
        with self._lock:
            now = time.monotonic()
            for name, times in self._spent.items():
                times[:] = [t for t in times if now - t < WINDOW_S]
                if len(times) < self.per_minute:
                    times.append(now)
                    return account(self.base_url, self.run_dir, name)
            name = f"{self.prefix}-{len(self._spent) + 1}"
            self._spent[name] = [now]
        return account(self.base_url, self.run_dir, name)

    @property
    def accounts(self) -> int:
        return len(self._spent)


_pools: dict[tuple[str, str], AccountPool] = {}


def pool(base_url: str, run_dir: Path, prefix: str) -> AccountPool:
    """The run's pool called `prefix` (shared by every probe of the process that asks)."""
    key = (str(run_dir), prefix)
    with _lock:
        found = _pools.get(key)
        if found is None or found.base_url != base_url:
            found = _pools[key] = AccountPool(base_url, run_dir, prefix)
        return found

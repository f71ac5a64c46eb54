"""A signing-key rotation while requests flow: two user-service replicas restart one at a time
through the runbook's phases (docs/runbooks/jwt-key-rotation.md) and no request fails.

Phases: 0 sign K1; 1 sign K1, accept K2; 2 sign K2, accept K1; 3 sign K2 only. A rolling restart
leaves replicas one phase apart, so a token signed by one is always accepted by the other. Phase
3 comes only once every token signed with K1 is gone (the runbook waits the refresh lifetime; here
every client has renewed its tokens since phase 2), and then a K1 token is refused.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from services.kit.migrations import migrate
from services.kit.signing_keys import key_id
from services.user.app import create_app
from services.user.settings import UserSettings
from tests.support import bearer, unique_email

pytestmark = pytest.mark.integration

K1, K2 = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
PHASES: list[dict[str, str | None]] = [
    {"jwt_secret": K1, "jwt_second_secret": None},
    {"jwt_secret": K1, "jwt_second_secret": K2},
    {"jwt_secret": K2, "jwt_second_secret": K1},
    {"jwt_secret": K2, "jwt_second_secret": None},
]
PASSWORD = "rotation-password-42"


@dataclass
class Generation:
    """One running app of a replica: its client, phase and requests in flight."""

    client: httpx.AsyncClient
    phase: int
    stack: AsyncExitStack
    inflight: int = 0

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.inflight += 1
        try:
            return await self.client.request(method, path, **kwargs)
        finally:
            self.inflight -= 1


@dataclass
class Replica:
    """One user-service pod: restarted as a rollout does (new one up, old one drained)."""

    dsn: str
    redis_url: str
    current: Generation | None = None

    @property
    def phase(self) -> int:
        return self.current.phase if self.current else -1

    def settings(self, phase: int) -> UserSettings:
        values: dict[str, Any] = {
            "profile": "prod",
            "database_url": self.dsn,
            "redis_url": self.redis_url,
            "rate_limit_per_minute": 0,
            "log_json": False,
            "argon2_time_cost": 1,
            "argon2_memory_kib": 1024,
            **PHASES[phase],
        }
        return UserSettings(**values)

    async def start(self, phase: int) -> None:
        """Start the new app; the balancer sends new requests to it from now on."""
        app: FastAPI = create_app(self.settings(phase))
        stack = AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://replica")
        )
        old, self.current = self.current, Generation(client, phase, stack)
        if old is not None:  # graceful shutdown: the requests it took finish first
            for _ in range(1000):
                if not old.inflight:
                    break
                await asyncio.sleep(0.01)
            await old.stack.aclose()

    async def stop(self) -> None:
        if self.current is not None:
            await self.current.stack.aclose()


@asynccontextmanager
async def replicas(dsn: str, redis_url: str) -> AsyncIterator[list[Replica]]:
    pair = [Replica(dsn, redis_url), Replica(dsn, redis_url)]
    for r in pair:
        await r.start(0)
    try:
        yield pair
    finally:
        for r in pair:
            await r.stop()


@dataclass
class Client:
    """A user who keeps reading /me and refreshing, on whichever replica the balancer picks."""

    email: str
    tokens: dict[str, str]
    renewed_in_phase: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    async def run(self, pair: list[Replica], stop: asyncio.Event) -> None:
        rng = random.Random(self.email)
        while not stop.is_set():
            served = rng.choice(pair).current
            assert served is not None
            if rng.random() < 0.3:
                r = await served.call(
                    "POST",
                    "/api/users/refresh",
                    json={"refresh_token": self.tokens["refresh_token"]},
                )
                if r.status_code == 200:
                    self.tokens = r.json()
                    self.renewed_in_phase = served.phase
            else:
                r = await served.call(
                    "GET", "/api/users/me", headers=bearer(self.tokens["access_token"])
                )
            self.requests += 1
            if r.status_code != 200:
                self.failures.append(f"phase {served.phase}: {r.status_code} {r.text}")
            await asyncio.sleep(0.005)


async def test_a_rolling_key_rotation_fails_no_request(postgres_dsn: str, clean_redis: str) -> None:
    await migrate(postgres_dsn, "user")
    async with replicas(postgres_dsn, clean_redis) as pair:
        assert pair[0].current is not None
        first = pair[0].current.client
        clients = []
        for _ in range(3):
            email = unique_email("rotation")
            r = await first.post(
                "/api/users/register", json={"email": email, "password": PASSWORD, "name": "R"}
            )
            assert r.status_code == 201, r.text
            r = await first.post("/api/users/login", json={"email": email, "password": PASSWORD})
            clients.append(Client(email, r.json()))
        old_access = clients[0].tokens["access_token"]
        assert jwt.get_unverified_header(old_access)["kid"] == key_id(K1)

        stop = asyncio.Event()
        flows = [asyncio.create_task(c.run(pair, stop)) for c in clients]
        try:
            for phase in (1, 2):
                for replica in pair:  # one at a time: the replicas are one phase apart
                    await replica.start(phase)
                    await asyncio.sleep(0.15)
            # Phase 3 only once no K1 token is left: every client renewed at a phase-2 replica.
            for _ in range(600):
                if min(c.renewed_in_phase for c in clients) >= 2:
                    break
                await asyncio.sleep(0.05)
            for replica in pair:
                await replica.start(3)
                await asyncio.sleep(0.15)
        finally:
            stop.set()
            await asyncio.gather(*flows)

        assert all(c.requests >= 10 for c in clients), [c.requests for c in clients]
        assert [f for c in clients for f in c.failures] == []
        # K1 is gone: a token it signed is refused now.
        assert pair[0].current is not None
        r = await pair[0].current.call("GET", "/api/users/me", headers=bearer(old_access))
        assert r.status_code == 401 and "unknown signing key" in r.json()["detail"]
        current = clients[0].tokens["access_token"]
        assert jwt.get_unverified_header(current)["kid"] == key_id(K2)

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from services.kit.migrations import migrate
from services.user.app import create_app
from services.user.settings import UserSettings
from tests.support import serving, unique_email

PASSWORD = "correct-horse-42"


@pytest.fixture(scope="session")
async def user_schema(postgres_dsn: str) -> str:
    await migrate(postgres_dsn, "user")
    return postgres_dsn


@pytest.fixture
def user_settings(user_schema: str, redis_url: str) -> Callable[..., UserSettings]:
    def make(**overrides: Any) -> UserSettings:
        values: dict[str, Any] = {
            "database_url": user_schema,
            "redis_url": redis_url,
            "rate_limit_per_minute": 0,
            "log_json": False,
            # Cheap hashing keeps the suite fast; production parameters are the defaults.
            "argon2_time_cost": 1,
            "argon2_memory_kib": 1024,
            **overrides,
        }
        return UserSettings(**values)

    return make


@pytest.fixture
async def client(user_settings: Callable[..., UserSettings]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(user_settings())) as c:
        yield c


async def register_and_login(
    client: httpx.AsyncClient, email: str | None = None, password: str = PASSWORD
) -> tuple[str, dict[str, Any]]:
    email = email or unique_email()
    r = await client.post(
        "/api/users/register", json={"email": email, "password": password, "name": "Test"}
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/users/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return email, r.json()

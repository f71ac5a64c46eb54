"""The caller checks of `services.kit.access`: each counts the request against the rate limit
first, and a request is counted once however many checks it passes (real Redis, real app)."""

from __future__ import annotations

import pytest
from fastapi import Depends, Request

from services.kit.access import CurrentUser, limited
from services.kit.auth import Principal, Role, current_principal
from services.kit.migrations import migrate
from services.kit.ratelimit import RateLimited
from services.user.app import create_app
from services.user.settings import UserSettings
from tests.support import bearer, serving

pytestmark = pytest.mark.integration


async def test_a_request_through_several_limited_checks_is_counted_once(
    postgres_dsn: str, clean_redis: str
) -> None:
    await migrate(postgres_dsn, "user")
    settings = UserSettings(
        database_url=postgres_dsn, redis_url=clean_redis, rate_limit_per_minute=3, log_json=False
    )
    app = create_app(settings)

    # The router's limit, a caller check, and a check of the route's own: three that count.
    async def own_check(request: Request) -> Principal:
        return await current_principal(request)

    @app.get("/api/users/checked-thrice", dependencies=[RateLimited, Depends(limited(own_check))])
    async def checked_thrice(principal: CurrentUser) -> dict[str, str]:
        return {"user": principal.user_id}

    async with serving(app) as client:
        token = app.state.tokens.issue("0c6f7c2e-3f1b-4d59-9d43-6a1e6f0c5a11", Role.USER, 0)
        codes = [
            (await client.get("/api/users/checked-thrice", headers=bearer(token))).status_code
            for _ in range(4)
        ]
    assert codes == [200, 200, 200, 429]


async def test_a_limited_check_answers_429_before_it_judges_the_caller(
    postgres_dsn: str, clean_redis: str
) -> None:
    """Over the limit, a request with no token is told to wait, not that it lacks a token: the
    order the router-wide limit gave."""
    await migrate(postgres_dsn, "user")
    settings = UserSettings(
        database_url=postgres_dsn, redis_url=clean_redis, rate_limit_per_minute=1, log_json=False
    )
    async with serving(create_app(settings)) as client:
        first = await client.get("/api/users/me")
        second = await client.get("/api/users/me")
    assert (first.status_code, second.status_code) == (401, 429)

"""user-service: accounts, login (JWT), roles, profile and preferences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.kit.app import create_service_app
from services.kit.resources import Resources
from services.user.lockout import UnknownEmailLockout
from services.user.passwords import Passwords
from services.user.refresh_tokens import RefreshTokens
from services.user.repository import UserRepository
from services.user.resources import UserResources
from services.user.routes import internal_router, router
from services.user.settings import UserSettings


def create_app(settings: UserSettings | None = None) -> FastAPI:
    settings = settings or UserSettings()

    @asynccontextmanager
    async def wire(app: FastAPI, resources: Resources) -> AsyncIterator[None]:
        passwords = Passwords(
            settings.argon2_time_cost,
            settings.argon2_memory_kib,
            settings.argon2_parallelism,
            workers=settings.password_hash_workers,
            nice=settings.password_hash_nice,
            queue_limit=settings.password_hash_queue_limit,
            idle=settings.password_hash_idle,
        )
        app.state.user_resources = UserResources(
            settings=settings,
            users=UserRepository(resources.pool),
            passwords=passwords,
            refresh_tokens=RefreshTokens(resources.pool, settings.refresh_token_ttl_s),
            lockout=UnknownEmailLockout(
                resources.redis, settings.lockout_threshold, settings.lockout_s
            ),
        )
        try:
            yield
        finally:
            passwords.close()

    return create_service_app(
        settings,
        title="TripGen user-service",
        description="Accounts, login (JWT), roles USER / POWER_USER / ADMIN, profile and "
        "travel preferences.",
        routers=[router, internal_router],
        extensions=[wire],
    )

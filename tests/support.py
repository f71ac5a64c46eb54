"""Helpers the test packages share: run an app's lifespan and talk to it in-process; build a
service's session versions on a given Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI

from services.kit.cache import CacheTtls, L1Cache, TieredCache
from services.kit.metrics import ServiceMetrics
from services.kit.sessions import CACHE_S, SessionVersions


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan (pools, workers) and yield an in-process client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_versions(redis: aioredis.Redis | None, *, cache_s: float = CACHE_S) -> SessionVersions:
    """A service process's view of session versions, on `redis` (None: no Redis at all)."""
    cache = TieredCache(
        redis,
        L1Cache(10, 60),
        ServiceMetrics("test-sessions"),
        ttls=CacheTtls(l2_s=60, ai_result_s=60),
    )
    return SessionVersions(cache, access_ttl_s=900, cache_s=cache_s)

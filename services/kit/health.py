"""Spring-style actuator health: `/actuator/health{,/liveness,/readiness,/startup}`.

Readiness fails only when PostgreSQL is unreachable. Redis is reported (DEGRADED) but does not
fail readiness: it is a cache, and pulling every replica out of rotation during a Redis outage
would turn a cache failure into a full outage (the services answer from PostgreSQL meanwhile).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from services.kit.db import ping

router = APIRouter(prefix="/actuator/health", tags=["health"])
_CACHE_S = 1.0  # probes from several sources within a second share one check


async def _redis_up(request: Request) -> bool:
    resources = request.app.state.resources
    try:
        return bool(await asyncio.wait_for(resources.redis.ping(), timeout=1.0))
    except (RedisError, OSError, TimeoutError):
        return False


async def _components(request: Request) -> dict[str, Any]:
    state = request.app.state
    cached = getattr(state, "health_cache", None)
    if cached and time.monotonic() - cached[0] < _CACHE_S:
        return cached[1]
    resources = state.resources
    db_ok, redis_ok = await asyncio.gather(ping(resources.pool, 2.0), _redis_up(request))
    components: dict[str, Any] = {
        "db": {"status": "UP" if db_ok else "DOWN"},
        "redis": {"status": "UP" if redis_ok else "DEGRADED"},
    }
    for name, check in getattr(state, "health_checks", {}).items():
        components[name] = await check()
    state.health_cache = (time.monotonic(), components)
    return components


def _info(request: Request) -> dict[str, str]:
    settings = request.app.state.resources.settings
    return {"service": settings.service_name, "zone": settings.zone, "replica": settings.replica}


@router.get("", summary="Overall health with components")
async def health(request: Request) -> JSONResponse:
    components = await _components(request)
    up = components["db"]["status"] == "UP"
    body = {"status": "UP" if up else "DOWN", "components": components, **_info(request)}
    return JSONResponse(body, status_code=200 if up else 503)


@router.get("/liveness", summary="The process is alive (the event loop answers)")
async def liveness() -> dict[str, str]:
    return {"status": "UP"}


@router.get("/readiness", summary="Ready for traffic: PostgreSQL reachable")
async def readiness(request: Request) -> JSONResponse:
    return await health(request)


@router.get("/startup", summary="Start-up finished (lifespan complete)")
async def startup(request: Request) -> JSONResponse:
    started = getattr(request.app.state, "started", False)
    return JSONResponse(
        {"status": "UP" if started else "DOWN"}, status_code=200 if started else 503
    )

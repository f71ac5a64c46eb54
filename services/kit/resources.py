"""What every running service holds: built once in the lifespan, reached through typed
dependencies. A service's own parts (repositories, workers) are in its own `resources` module.

Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
pool, a hand-off per request that cost a third of a replica's CPU in the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import httpx
from fastapi import Depends, Request
from redis.asyncio import Redis

from services.kit.auth import TokenCodec
from services.kit.cache import TieredCache
from services.kit.db import DictPool
from services.kit.metrics import ServiceMetrics
from services.kit.settings import ServiceSettings

if TYPE_CHECKING:
    from services.kit.queue import QueuePort


@dataclass
class Resources:
    settings: ServiceSettings
    pool: DictPool
    redis: Redis
    cache: TieredCache
    metrics: ServiceMetrics
    tokens: TokenCodec
    http: httpx.AsyncClient
    queue: QueuePort | None = None


async def get_resources(request: Request) -> Resources:
    return request.app.state.resources


async def get_pool(request: Request) -> DictPool:
    return request.app.state.resources.pool


async def get_cache(request: Request) -> TieredCache:
    return request.app.state.resources.cache


async def get_redis(request: Request) -> Redis:
    return request.app.state.resources.redis


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.app.state.resources.http


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


async def get_queue(request: Request) -> QueuePort:
    queue = request.app.state.resources.queue
    if queue is None:  # a wiring mistake, not a user's: fail loudly
        raise RuntimeError("this service was built without a queue")
    return queue


ResourcesDep = Annotated[Resources, Depends(get_resources)]
PoolDep = Annotated[DictPool, Depends(get_pool)]
CacheDep = Annotated[TieredCache, Depends(get_cache)]
RedisDep = Annotated[Redis, Depends(get_redis)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
QueueDep = Annotated["QueuePort", Depends(get_queue)]

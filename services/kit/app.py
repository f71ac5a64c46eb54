"""The app factory every service uses: resources in the lifespan, middleware, health, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig

from services.kit import health
from services.kit.auth import ServiceCredentials, TokenCodec
from services.kit.cache import CacheTtls, L1Cache, TieredCache
from services.kit.db import open_pool, schema_of
from services.kit.errors import document_problems, install_error_handlers
from services.kit.fault import install_fault
from services.kit.httpclient import build_http_client
from services.kit.logs import configure_logging
from services.kit.metrics import ServiceMetrics, metrics_endpoint
from services.kit.middleware import ObservabilityMiddleware
from services.kit.redis_client import redis_from_url
from services.kit.resources import Resources
from services.kit.sessions import SessionVersions
from services.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

# FastAPI's native OpenTelemetry, off: the services are observed through Prometheus (their
# /metrics and ObservabilityMiddleware) and configure no OpenTelemetry provider, yet with it on
# every request looks the three global providers up (and os.environ with them) to find it has
# nothing to record — about 2 % of a profile read's service CPU in the benchmark's flame graph.
NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

# A service's own start-up work (a worker, a consumer) that runs inside the shared lifespan.
Extension = Callable[[FastAPI, Resources], AbstractAsyncContextManager[None]]


def token_codec(settings: ServiceSettings) -> TokenCodec:
    return TokenCodec(
        keys=settings.signing_keys,
        algorithm=settings.jwt_algorithm,
        access_ttl_s=settings.access_token_ttl_s,
        refresh_ttl_s=settings.refresh_token_ttl_s,
        audience=settings.service_name,
        remembered=settings.verified_tokens_remembered,
    )


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    with_queue: bool = False,
    extensions: Sequence[Extension] = (),
) -> FastAPI:
    """Build a service app. Pools and clients are created in the lifespan, not at import."""
    name = settings.service_name
    metrics = ServiceMetrics(name)
    public_docs = settings.profile == "dev"
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=_service_lifespan(settings, metrics, with_queue=with_queue, extensions=extensions),
        # The interactive docs and the schema map the attack surface: served in dev only.
        docs_url=f"/api/{_route_prefix(name)}/docs" if public_docs else None,
        openapi_url=f"/api/{_route_prefix(name)}/openapi.json" if public_docs else None,
        redoc_url=None,
        telemetry=NO_NATIVE_TELEMETRY,
    )
    app.state.metrics = metrics
    app.state.tokens = token_codec(settings)
    # Calls a service makes on its own behalf (not forwarding a user) carry this token, so they
    # do not count against any user's rate limit.
    app.state.service_auth = ServiceCredentials(app.state.tokens, name)
    app.state.started = False
    app.state.health_checks = {}
    install_error_handlers(app)
    document_problems(app)
    # The API's routes first: a request is matched against the routes in order, and probes and
    # scrapes are a few a second where API calls are hundreds.
    for router in routers:
        app.include_router(router)
    app.include_router(health.router)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    install_fault(app)  # rehearsal only (TRIPGEN_FAULT); inside the metrics middleware
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return app


def _service_lifespan(
    settings: ServiceSettings,
    metrics: ServiceMetrics,
    *,
    with_queue: bool,
    extensions: Sequence[Extension],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The shared lifespan: open the resources, run the service's extensions, close it all."""
    name = settings.service_name

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(f"{name}-service", settings.log_level, settings.log_json)
        async with AsyncExitStack() as stack:
            resources = await _open_resources(
                stack, settings, metrics, app.state.tokens, with_queue=with_queue
            )
            app.state.resources = resources
            app.state.sessions = await stack.enter_async_context(
                SessionVersions(
                    resources.cache, access_ttl_s=settings.access_token_ttl_s
                ).listening()
            )
            _collect_pool_stats(metrics, resources)
            for extension in extensions:
                await stack.enter_async_context(extension(app, resources))
            app.state.started = True
            log.info("%s-service started", name, extra={"fields": {"zone": settings.zone}})
            yield
            app.state.started = False

    return lifespan


async def _open_resources(
    stack: AsyncExitStack,
    settings: ServiceSettings,
    metrics: ServiceMetrics,
    tokens: TokenCodec,
    *,
    with_queue: bool,
) -> Resources:
    """Pool, Redis, cache, HTTP client (and the queue): each closed by `stack` on the way out."""
    pool = await open_pool(
        settings.database_url,
        schema=schema_of(settings.service_name),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout_s=settings.db_timeout_s,
    )
    stack.push_async_callback(pool.close)
    redis = redis_from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
    )
    stack.push_async_callback(redis.aclose)
    cache = TieredCache(
        redis,
        L1Cache(settings.l1_entries, settings.l1_ttl_s),
        metrics,
        ttls=CacheTtls(l2_s=settings.l2_ttl, ai_result_s=settings.ai_result_ttl),
        retry_after_s=settings.redis_retry_after_s,
    )
    http = build_http_client(settings.http_timeout_s)
    stack.push_async_callback(http.aclose)
    resources = Resources(
        settings=settings,
        pool=pool,
        redis=redis,
        cache=cache,
        metrics=metrics,
        tokens=tokens,
        http=http,
    )
    if with_queue:
        from services.kit.queue import build_queue

        resources.queue = build_queue(settings, redis)
        stack.push_async_callback(resources.queue.close)
    return resources


def _route_prefix(service: str) -> str:
    return {"user": "users", "trip": "trips", "ai": "ai", "location": "locations"}[service]


def _collect_pool_stats(metrics: ServiceMetrics, resources: Resources) -> None:
    def collect() -> None:
        stats = resources.pool.get_stats()
        metrics.db_pool.labels("size").set(stats.get("pool_size", 0))
        metrics.db_pool.labels("available").set(stats.get("pool_available", 0))
        metrics.db_pool.labels("waiting").set(stats.get("requests_waiting", 0))
        metrics.cache_ratio.set(resources.cache.hit_ratio)

    metrics.on_scrape(collect)

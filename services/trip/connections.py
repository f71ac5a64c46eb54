"""`active_connections`: the trip HPA's custom metric (SPEC.md › Autoscaling, trip: > 50).

A dedicated gauge rather than the kit's `http_requests_in_flight`: it counts only API requests
under /api/trips that this replica is serving at the moment, so probes and metric scrapes do not
move the autoscaler, nor do long polls while they wait. It is maintained by a pure-ASGI
middleware (cheaper than a dependency, and it spans the whole request including sending the
response).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Gauge
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.metrics import ServiceMetrics
from services.kit.middleware import waiting_on_purpose

API_PREFIX = "/api/trips"


def active_connections_gauge(metrics: ServiceMetrics) -> Gauge:
    return metrics.gauge(
        "active_connections", "API requests this replica is serving now (trip HPA metric)"
    )


@contextmanager
def not_serving(request: Request) -> Iterator[None]:
    """While the request only waits (a schedule's long poll): out of this gauge, since idle
    waiters cost nothing and must not scale trip-service out, and out of its latency."""
    gauge: Gauge | None = getattr(request.app.state, "active_connections", None)
    with waiting_on_purpose(request.scope):
        if gauge is None:
            yield
            return
        gauge.dec()
        try:
            yield
        finally:
            gauge.inc()


class ActiveConnectionsMiddleware:
    def __init__(self, app: ASGIApp, gauge: Gauge) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        self.gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gauge.dec()

"""One pure-ASGI middleware for correlation id, metrics and error logging (cheaper than three)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.correlation import HEADER, set_request_id
from services.kit.metrics import ServiceMetrics

log = logging.getLogger("tripgen.http")
_HEADER_BYTES = HEADER.lower().encode()
_UNTRACKED = {"/metrics", "/actuator/health/liveness"}


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope["headers"]:
            if key == _HEADER_BYTES:
                incoming = value.decode("latin-1")
                break
        rid = set_request_id(incoming)
        rid_header = (_HEADER_BYTES, rid.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            raise
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            # The route template keeps label cardinality bounded; unmatched paths share one label.
            name = getattr(route, "path", None) or "unmatched"
            if name not in _UNTRACKED:
                elapsed = time.perf_counter() - started
                method = scope["method"]
                self.metrics.requests.labels(name, method, str(status)).inc()
                self.metrics.latency.labels(name, method).observe(elapsed)

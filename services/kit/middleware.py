"""One pure-ASGI middleware for correlation id, metrics, security headers and the last-resort
error answer (cheaper than four).

An unhandled error is answered here, as problem+json 500 carrying the request id, and is not
re-raised: re-raised, uvicorn would close the keep-alive connection after the answer, and the
gateway's next request on it (a POST it must not retry) could fail with a 502.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.correlation import HEADER, set_request_id
from services.kit.errors import PROBLEM_JSON
from services.kit.metrics import ServiceMetrics

log = logging.getLogger("tripgen.http")
_HEADER_BYTES = HEADER.lower().encode()
_UNTRACKED = {"/metrics", "/actuator/health/liveness"}
_CACHE_CONTROL = b"cache-control"
# Every answer: no MIME sniffing. API answers are private (tokens, profiles, trips): no caching
# anywhere on the way unless a route says otherwise.
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (_CACHE_CONTROL, b"no-store")
_WAITED_S = "tripgen.waited_s"  # scope key: seconds a request spent waiting on purpose


@contextmanager
def waiting_on_purpose(scope: Scope) -> Iterator[None]:
    """Leave this span out of the request's `http_request_duration_seconds`: a long poll waits
    seconds for news by design, and the histogram is the service's own latency, which canary
    analysis and the SLA lines judge."""
    started = time.perf_counter()
    try:
        yield
    finally:
        scope[_WAITED_S] = scope.get(_WAITED_S, 0.0) + time.perf_counter() - started


def internal_error_body(request_id: str) -> bytes:
    """The 500 answer: no exception text, no traceback; the id finds the log entry."""
    return json.dumps({
        "type": "about:blank", "title": "Internal Server Error", "status": 500,
        "detail": f"an unexpected error occurred; quote request id {request_id} when reporting it",
        "errors": [], "request_id": request_id,
    }).encode()  # fmt: skip


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
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                headers = [*message.get("headers", []), rid_header, _NOSNIFF]
                if not any(key.lower() == _CACHE_CONTROL for key, _ in headers):
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started_response:
                raise  # half an answer is out: only closing the connection can end it
            await _answer_internal_error(send_with_id, rid)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            # The route template keeps label cardinality bounded; unmatched paths share one label.
            name = getattr(route, "path", None) or "unmatched"
            if name not in _UNTRACKED:
                elapsed = time.perf_counter() - started - scope.get(_WAITED_S, 0.0)
                self.metrics.observe_request(name, scope["method"], status, elapsed)


async def _answer_internal_error(send: Send, request_id: str) -> None:
    body = internal_error_body(request_id)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})

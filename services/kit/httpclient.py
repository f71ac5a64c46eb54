"""Service-to-service HTTP: one pooled httpx client per process, carrying the correlation id."""

from __future__ import annotations

import httpx

from services.kit.correlation import outgoing_headers


async def _add_request_id(request: httpx.Request) -> None:
    for key, value in outgoing_headers().items():
        request.headers.setdefault(key, value)


def build_http_client(timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(1.0, timeout_s)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        event_hooks={"request": [_add_request_id]},
    )

"""Run a service under uvicorn the way production does (uvloop + httptools, no access log)."""

from __future__ import annotations

import uvicorn

from services.kit.settings import ServiceSettings


def serve(factory: str, settings: ServiceSettings) -> None:
    """`factory` is the import path of the app factory, e.g. `services.user.app:create_app`."""
    uvicorn.run(
        factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="*",
        timeout_graceful_shutdown=10,
    )

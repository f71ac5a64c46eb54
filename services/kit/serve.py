"""Run a service under uvicorn the way production does (uvloop + httptools, no access log).

The client address (rate limits, lockout, logs) comes from `X-Forwarded-For` only when the
connection is from the proxy: uvicorn trusts the addresses in `FORWARDED_ALLOW_IPS` (its own
variable; the chart sets the pod network there), by default loopback, where the local
platform's nginx runs. Trusting every address ("*") would let any client pick its address.
"""

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
        forwarded_allow_ips=None,  # FORWARDED_ALLOW_IPS, else 127.0.0.1 and ::1
        timeout_graceful_shutdown=10,
    )

"""Run a service under uvicorn the way production does (uvloop + httptools, no access log).

The client address (rate limits, lockout, logs) comes from `X-Forwarded-For` only when the
connection is from the proxy: uvicorn trusts the addresses (or CIDRs) in
`TRIPGEN_FORWARDED_ALLOW_IPS` (the chart sets the App Gateway subnet there), else uvicorn's own
`FORWARDED_ALLOW_IPS`, else loopback, where the local platform's nginx runs. Trusting every
address ("*") would let any client pick its address.
"""

from __future__ import annotations

import os

import uvicorn

from services.kit.settings import ServiceSettings

TRUSTED_PROXIES_ENV = "TRIPGEN_FORWARDED_ALLOW_IPS"


def trusted_proxies() -> str | None:
    """The proxies whose `X-Forwarded-For` is believed; None = uvicorn's default (loopback)."""
    value = os.environ.get(TRUSTED_PROXIES_ENV, "").strip()
    if value == "*":
        raise ValueError(f"{TRUSTED_PROXIES_ENV}='*' would let any client choose its address")
    return value or None


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
        forwarded_allow_ips=trusted_proxies(),
        timeout_graceful_shutdown=10,
    )

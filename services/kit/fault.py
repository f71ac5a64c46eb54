"""A fault switch for rehearsing rollouts: a build that fails a chosen share of one route.

    TRIPGEN_FAULT="GET /api/locations/cities=0.05"     # method optional: "/api/…=0.05"

Off unless the variable is set. The share is applied by count, not by chance: with 0.05 every
20th matching request of a process fails (the 20th, the 40th, …), so a rehearsal fails the same
requests every time and a short run still sees the share it asked for. A failed request answers
500 problem+json saying it was injected, before the handler runs (no side effect), and is counted
under its route template like any other answer.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

FAULT_ENV = "TRIPGEN_FAULT"
_SPEC = re.compile(r"^(?:(?P<method>[A-Z]+)\s+)?(?P<route>/\S*)=(?P<share>[0-9.]+)$")

log = logging.getLogger("tripgen.fault")


class FaultSpecError(ValueError):
    """TRIPGEN_FAULT does not read `[METHOD ]/route/template=share`."""


@dataclass(frozen=True)
class Fault:
    """Fail `share` (0 < share ≤ 1) of the requests to route template `route` (any method when
    `method` is None)."""

    route: str
    share: float
    method: str | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        match = _SPEC.match(text.strip())
        if match is None:
            raise FaultSpecError(
                f"{FAULT_ENV}={text!r}: expected '[METHOD ]/route/template=share', "
                "e.g. 'GET /api/locations/cities=0.05'"
            )
        try:
            share = float(match["share"])
        except ValueError:
            share = -1.0
        if not 0.0 < share <= 1.0:
            raise FaultSpecError(f"{FAULT_ENV}={text!r}: share must be in (0, 1], e.g. 0.05")
        return cls(match["route"], share, match["method"])

    def fails(self, count: int) -> bool:
        """Whether the `count`-th matching request (1-based) fails: the count crosses the next
        multiple of 1/share."""
        return int(count * self.share + 1e-9) > int((count - 1) * self.share + 1e-9)


def fault_from_env(environ: dict[str, str] | None = None) -> Fault | None:
    text = (environ if environ is not None else os.environ).get(FAULT_ENV, "").strip()
    return Fault.parse(text) if text else None


_BODY = orjson.dumps(
    {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": f"injected fault ({FAULT_ENV}): this build fails a share of this route",
    }
)


@dataclass(frozen=True)
class _FailedRoute:
    """What the metrics middleware reads of a routed request (`scope["route"].path`)."""

    path: str


class FaultMiddleware:
    """Pure ASGI: matches the path against the route template the way the router compiles it,
    answers 500 for every request `fault.fails` picks, and names the route for the metrics."""

    def __init__(self, app: ASGIApp, fault: Fault) -> None:
        self.app = app
        self.fault = fault
        self.pattern = compile_path(fault.route)[0]
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.fault.method is not None and scope["method"] != self.fault.method
        ):
            await self.app(scope, receive, send)
            return
        if not self.pattern.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        self.count += 1
        if not self.fault.fails(self.count):
            await self.app(scope, receive, send)
            return
        scope["route"] = _FailedRoute(self.fault.route)  # for the metrics middleware outside
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(_BODY)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BODY})


def install_fault(app: Any) -> None:
    """Add the fault middleware when TRIPGEN_FAULT is set (call before the metrics middleware, so
    injected failures are counted); a malformed value stops the service at start-up."""
    fault = fault_from_env()
    if fault is None:
        return
    log.warning(
        "fault switch on: %s of %s %s fail with 500",
        f"{fault.share:.1%}",
        fault.method or "every method of",
        fault.route,
    )
    app.add_middleware(FaultMiddleware, fault=fault)

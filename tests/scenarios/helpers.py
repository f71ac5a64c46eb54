"""Helpers of the scenarios tests: a tiny FastAPI app shaped like the services, uvicorn in a
thread on a free port, and synthetic stats rows for the judge's edge cases."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException

from runs.results import EndpointStats, LoadResults

HERE = Path(__file__).parent
LOCUSTFILE = HERE / "tiny_locustfile.py"
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def tiny_app() -> FastAPI:
    """Routes shaped like the services' (health, a fast read, a flaky one, an AI request)."""
    app = FastAPI()

    @app.get("/actuator/health")
    async def health() -> dict[str, str]:
        return {"status": "UP"}

    @app.get("/api/locations/places")
    async def places() -> dict[str, list[int]]:
        return {"items": list(range(10))}

    @app.get("/api/trips/flaky")
    async def flaky() -> dict[str, bool]:
        # About one in five fails, so the run has failures to count.
        if random.random() < 0.2:
            raise HTTPException(status_code=500, detail="injected")
        return {"ok": True}

    @app.post("/api/ai/schedules")
    async def schedule() -> dict[str, str]:
        await asyncio.sleep(0.02)
        return {"status": "COMPLETED"}

    @app.get("/hang")
    async def hang() -> dict[str, bool]:
        await asyncio.sleep(30)
        return {"ok": True}

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """uvicorn in a background thread; `stop()` closes the listener (connections refused)."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            # /hang handlers outlive their clients; do not wait for them on stop.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def endpoint(name: str, requests: int, failures: int = 0, **fields: Any) -> EndpointStats:
    """A synthetic stats row; percentile fields default to a 10 ms median, 50 ms p95."""
    values: dict[str, Any] = {
        "method": "GET",
        "name": name,
        "requests": requests,
        "failures": failures,
        "mean_ms": 12.0,
        "min_ms": 1.0,
        "max_ms": 100.0,
        "median_ms": 10.0,
        "p50_ms": 10.0,
        "p90_ms": 40.0,
        "p95_ms": 50.0,
        "p99_ms": 90.0,
        "percentiles_ms": {"50": 10.0, "90": 40.0, "95": 50.0, "99": 90.0, "100": 100.0},
        "rps": requests / 60,
        "failures_per_s": failures / 60,
    }
    values.update(fields)
    return EndpointStats.model_validate(values)


MakeResults = Callable[..., LoadResults]
"""The `make_results` fixture: synthetic results over 60 s from T0."""

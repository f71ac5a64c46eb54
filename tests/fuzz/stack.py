"""The four services under real uvicorn on loopback ports, wired to each other like a
deployment (trip → location, ai → location and trip), on the test session's PostgreSQL and
Redis, with the dev sample places and AI reference data loaded. Each server runs in its own
thread with its own event loop, as a replica runs in its own process."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI

from services.ai.app import create_app as create_ai
from services.ai.settings import AISettings
from services.kit.db import schema_of
from services.location.app import create_app as create_location
from services.location.settings import LocationSettings
from services.trip.app import create_app as create_trip
from services.trip.settings import TripSettings
from services.user.app import create_app as create_user
from services.user.settings import UserSettings
from simulation.backing.processes import free_port

SERVICES = ("user", "trip", "ai", "location")
PASSWORD = "fuzz-password-2024"


@dataclass
class Server:
    name: str
    app: FastAPI
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _settings(dsn: str, redis_url: str, ports: dict[str, int]) -> dict[str, Any]:
    urls = {f"{name}_url": f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common: dict[str, Any] = {
        "database_url": dsn, "redis_url": redis_url, "rate_limit_per_minute": 0,
        "log_json": False, "log_level": "ERROR", "db_pool_min": 1, "db_pool_max": 4, **urls,
    }  # fmt: skip
    return common


def build_apps(dsn: str, redis_url: str, ports: dict[str, int]) -> dict[str, FastAPI]:
    common = _settings(dsn, redis_url, ports)
    return {
        # Cheap hashing: the fuzzer registers and logs in often; the rules are the same.
        "user": create_user(UserSettings(**common, argon2_time_cost=1, argon2_memory_kib=1024)),
        "trip": create_trip(TripSettings(**common, outbox_relay_interval_s=0.2)),
        "ai": create_ai(AISettings(**common, planner_processes=1, worker_concurrency=1)),
        "location": create_location(LocationSettings(**common)),
    }


def _start(name: str, app: FastAPI, port: int) -> Server:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http="httptools", log_level="error",
        access_log=False, log_config=None, timeout_graceful_shutdown=5,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"fuzz-{name}", daemon=True)
    thread.start()
    return Server(name, app, port, server, thread)


def _wait_started(servers: list[Server], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    for s in servers:
        while not s.server.started:
            if not s.thread.is_alive():
                raise RuntimeError(f"{s.name}-service stopped while starting (see its log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{s.name}-service did not start within {timeout_s:.0f} s")
            time.sleep(0.05)


@contextmanager
def running_stack(dsn: str, redis_url: str) -> Iterator[dict[str, Server]]:
    ports = {name: free_port() for name in SERVICES}
    apps = build_apps(dsn, redis_url, ports)
    servers = [_start(name, apps[name], ports[name]) for name in SERVICES]
    try:
        _wait_started(servers)
        yield {s.name: s for s in servers}
    finally:
        for s in servers:
            s.server.should_exit = True
        for s in servers:
            s.thread.join(timeout=15)


@dataclass(frozen=True)
class Identity:
    role: str
    user_id: str
    headers: dict[str, str]


def make_identity(user_url: str, dsn: str, role: str) -> Identity:
    """A real account through user-service's own routes; an admin is promoted in the database
    (as an operator would) before it logs in, so its token carries the role."""
    email = f"fuzz-{role.lower()}-{uuid.uuid4().hex[:10]}@example.org"
    with httpx.Client(base_url=user_url, timeout=30) as client:
        made = client.post(
            "/api/users/register", json={"email": email, "password": PASSWORD, "name": role}
        )
        made.raise_for_status()
        user_id = str(made.json()["id"])
        if role != "USER":
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(
                    f"UPDATE {schema_of('user')}.users SET role = %s WHERE id = %s",
                    (role, user_id),
                )
        login = client.post("/api/users/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        token = login.json()["access_token"]
    return Identity(role, user_id, {"Authorization": f"Bearer {token}"})

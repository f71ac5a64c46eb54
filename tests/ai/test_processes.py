"""The two commands of contracts.md › Processes, run as real processes: `python -m services.ai`
(API + in-process worker) and `python -m services.ai.worker` (the worker alone)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from services.kit.queue import AI_SCHEDULE_QUEUE, RedisStreamsQueue

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(module: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def service_env(ai_database: str, redis_url: str) -> dict[str, str]:
    return {
        "TRIPGEN_DATABASE_URL": ai_database,
        "TRIPGEN_REDIS_URL": redis_url,
        "TRIPGEN_LOCATION_URL": "http://127.0.0.1:9",  # not needed by these checks
        "TRIPGEN_LOG_JSON": "false",
        "TRIPGEN_AI_PLANNER_PROCESSES": "1",
        "TRIPGEN_AI_WORKER_RECEIVE_WAIT_S": "0.2",
        "TRIPGEN_AI_RETRY_BACKOFF_S": "0",
    }


async def test_the_api_process_serves_health_and_stops_on_sigterm(
    ai_database: str, clean_redis: str
) -> None:
    port = free_port()
    env = {**service_env(ai_database, clean_redis), "TRIPGEN_AI_PORT": str(port)}
    with running("services.ai", env) as process:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                try:
                    health = await client.get("/actuator/health/startup")
                    if health.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the API did not start"
                await asyncio.sleep(0.2)
            assert (await client.get("/actuator/health")).json()["status"] == "UP"
            anonymous = await client.post("/api/ai/schedules/preview", json={})
            assert anonymous.status_code == 401
            metrics = (await client.get("/metrics")).text
            assert "queue_length" in metrics
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)


async def test_the_worker_process_consumes_the_queue_and_stops_on_sigterm(
    ai_database: str, clean_redis: str
) -> None:
    client = aioredis.Redis.from_url(clean_redis)
    queue = RedisStreamsQueue(client)
    try:
        with running("services.ai.worker", service_env(ai_database, clean_redis)) as process:
            await queue.send(AI_SCHEDULE_QUEUE, {"not": "a request"}, message_id="poison-1")
            deadline = time.monotonic() + 30
            while await queue.dead_letter_count(AI_SCHEDULE_QUEUE) < 1:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the worker did not settle the message"
                await asyncio.sleep(0.2)
            assert await queue.queue_length(AI_SCHEDULE_QUEUE) == 0
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
            output = process.stdout.read().decode()  # type: ignore[union-attr]
            assert "ai worker running with 4 tasks" in output
            assert "invalid message poison-1 (delivery 3)" in output
    finally:
        await queue.close()
        await client.aclose()


def test_the_worker_command_refuses_a_concurrency_of_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.ai.worker"],
        cwd=ROOT,
        env={**os.environ, "TRIPGEN_AI_WORKER_CONCURRENCY": "0"},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"TRIPGEN_AI_WORKER_CONCURRENCY" in result.stderr

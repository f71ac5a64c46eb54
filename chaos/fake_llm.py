"""An OpenAI-compatible chat-completions endpoint whose failure rate chaos can set at run time.

Promoted from the ai tests' fake (`tests/ai/fake_llm.py`: same routes and answers) with what an
experiment needs on top: failures drawn at random with the set probability — the tests' fake
fails a deterministic every-n-th call, and an exact 50% never exceeds SPEC.md's "> 50% → open"
in any window, whereas a real endpoint failing half the time does — and an admin API, since the
server must outlive single requests and be steered from another process:

    PUT /_chaos/failure-rate {"rate": 0.5}     GET /_chaos/stats → calls, failures, rate

Run it beside a deployment: `python -m chaos.fake_llm --port 18080`, then deploy with
`--env TRIPGEN_AI_LLM_BASE_URL=http://127.0.0.1:18080/v1` (`chaos.cli --deploy` does both).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

WISH_ANSWER = {"categories": {"food": 2.5}, "tags": {}}


class FailureRate(BaseModel):
    rate: float = Field(ge=0.0, le=1.0)


@dataclass
class ChaosLLM:
    failure_rate: float = 0.0
    delay_s: float = 0.0
    seed: int = 8
    port: int = 0
    calls: int = 0
    failures: int = 0
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> Response:
            body = await request.json()
            system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
            with self._lock:
                self.calls += 1
                fail = self._random.random() < self.failure_rate
                self.failures += fail
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if fail:
                return JSONResponse({"error": {"message": "chaos", "type": "server_error"}}, 500)
            if "weights" in system:
                content = orjson.dumps(WISH_ANSWER).decode()
            else:
                days = re.findall(r"^Day (\d+)", user, flags=re.MULTILINE)
                narratives = [f"Day {d}: sights and food." for d in days]
                content = orjson.dumps({"days": narratives}).decode()
            return JSONResponse(_completion(body.get("model", "fake"), content))

        @app.put("/_chaos/failure-rate")
        async def set_rate(update: FailureRate) -> dict[str, Any]:
            with self._lock:
                self.failure_rate = update.rate
            return self.stats()

        @app.get("/_chaos/stats")
        async def stats() -> dict[str, Any]:
            return self.stats()

        return app

    def stats(self) -> dict[str, Any]:
        return {"calls": self.calls, "failures": self.failures, "rate": self.failure_rate}

    def start(self) -> ChaosLLM:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = int(probe.getsockname()[1])
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            loop="asyncio",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="chaos-llm")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the chaos LLM endpoint did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-chaos",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.fake_llm")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = ChaosLLM(failure_rate=args.failure_rate, port=args.port).start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

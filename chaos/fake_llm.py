"""An OpenAI-compatible chat-completions endpoint whose failure rate chaos can set at run time.

The one fake LLM of the repository: chaos experiments run it beside a deployment, and the ai
tests (`tests/ai/conftest.py`) in process. A real HTTP server (uvicorn in a thread) so the
`openai` SDK is used as in production, on the OpenAI and the Azure OpenAI paths. By default it
answers what ai-service asks for: wish weights that lift `food` (plus an invented category that
must be dropped) and one narrative per day; it can be made slow (`delay_s`) or answer with
given text (`wishes_answer`, `narrative_answer`).

Failures are drawn at random with the set probability (`failure_rate`): an exact 50% that fails
every second call never exceeds SPEC.md's "> 50% → open" in any window, whereas a real endpoint
failing half the time does. Tests that count calls want the deterministic pattern instead
(`deterministic=True`: call n fails when ⌊(n+1)·rate⌋ > ⌊n·rate⌋, so 2/3 fails two of every
three). An admin API steers it from another process, since it outlives single requests:

    PUT /_chaos/failure-rate {"rate": 0.5}     GET /_chaos/stats → calls, failures, rate

Run it beside a deployment: `python -m chaos.fake_llm --port 18080`, then deploy with
`--env TRIPGEN_AI_LLM_BASE_URL=http://127.0.0.1:18080/v1` (`chaos.cli --deploy` does both).
"""

from __future__ import annotations

import argparse
import asyncio
import math
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

WISH_ANSWER = {"categories": {"food": 2.5, "spaceports": 3.0}, "tags": {}}


class FailureRate(BaseModel):
    rate: float = Field(ge=0.0, le=1.0)


@dataclass
class ChaosLLM:
    failure_rate: float = 0.0
    delay_s: float = 0.0
    seed: int = 8
    deterministic: bool = False  # every-n-th call fails rather than a random draw (see above)
    wishes_answer: str | None = None  # raw content instead of WISH_ANSWER
    narrative_answer: str | None = None  # raw content instead of one narrative per day
    port: int = 0
    calls: int = 0
    failures: int = 0
    purposes: list[str] = field(default_factory=list)  # "wishes" or "narrative", per call
    paths: list[str] = field(default_factory=list)  # the request path of each call
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> None:
        """Back to fast, correct answers (a test's outage ends)."""
        with self._lock:
            self.delay_s, self.failure_rate = 0.0, 0.0
            self.wishes_answer = self.narrative_answer = None

    def _should_fail(self, n: int) -> bool:
        if self.deterministic:
            rate = self.failure_rate
            return math.floor((n + 1) * rate) > math.floor(n * rate)
        return self._random.random() < self.failure_rate

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        @app.post("/openai/deployments/{deployment}/chat/completions")  # Azure OpenAI's path
        async def complete(request: Request) -> Response:
            body = await request.json()
            system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
            purpose = "wishes" if "weights" in system else "narrative"
            with self._lock:
                fail = self._should_fail(self.calls)
                self.calls += 1
                self.failures += fail
                self.purposes.append(purpose)
                self.paths.append(request.url.path)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if fail:
                return JSONResponse({"error": {"message": "chaos", "type": "server_error"}}, 500)
            if purpose == "wishes":
                content = self.wishes_answer or orjson.dumps(WISH_ANSWER).decode()
            else:
                days = re.findall(r"^Day (\d+)", user, flags=re.MULTILINE)
                narratives = [f"Day {d}: a lovely day of sights and food." for d in days]
                content = self.narrative_answer or orjson.dumps({"days": narratives}).decode()
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

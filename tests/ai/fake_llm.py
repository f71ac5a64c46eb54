"""A local OpenAI-compatible chat-completions server for the LLM enrichment tests.

A real HTTP server (uvicorn in a thread, on a free loopback port) so the `openai` SDK is used
as in production. It can be made slow (`delay_s`), failing at a deterministic rate
(`failure_rate`: call n fails when ⌊(n+1)·rate⌋ > ⌊n·rate⌋, so 0.5 fails every second call),
or answer with given text. By default it answers what ai-service asks for: wish weights that
lift `food` (plus an invented category that must be dropped) and one narrative per day.
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

WISH_ANSWER = {"categories": {"food": 2.5, "spaceports": 3.0}, "tags": {}}


@dataclass
class FakeLLM:
    delay_s: float = 0.0
    failure_rate: float = 0.0
    wishes_answer: str | None = None  # raw content instead of WISH_ANSWER
    narrative_answer: str | None = None
    calls: int = 0
    purposes: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> None:
        self.delay_s, self.failure_rate = 0.0, 0.0
        self.wishes_answer = self.narrative_answer = None

    def _should_fail(self, n: int) -> bool:
        return math.floor((n + 1) * self.failure_rate) > math.floor(n * self.failure_rate)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        @app.post("/openai/deployments/{deployment}/chat/completions")  # Azure OpenAI's path
        async def complete(request: Request) -> Response:
            body = await request.json()
            system = body["messages"][0]["content"]
            user = body["messages"][-1]["content"]
            purpose = "wishes" if "weights" in system else "narrative"
            with self._lock:
                n = self.calls
                self.calls += 1
                self.purposes.append(purpose)
                self.paths.append(request.url.path)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self._should_fail(n):
                return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
            if purpose == "wishes":
                content = self.wishes_answer or orjson.dumps(WISH_ANSWER).decode()
            else:
                days = re.findall(r"^Day (\d+)", user, flags=re.MULTILINE)
                content = (
                    self.narrative_answer
                    or orjson.dumps(
                        {"days": [f"Day {d}: a lovely day of sights and food." for d in days]}
                    ).decode()
                )
            return JSONResponse(_completion(body.get("model", "fake"), content))

        return app

    def start(self) -> FakeLLM:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
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
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="fake-llm")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake LLM server did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
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

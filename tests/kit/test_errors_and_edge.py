"""The kit's edge: the shared `Text` type, the error handlers, the last-resort 500, the security
headers, the docs switch and the trusted proxy address."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Query, Response
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from psycopg import DataError
from pydantic import BaseModel, Field, StringConstraints

from services.kit.app import NO_NATIVE_TELEMETRY, create_service_app
from services.kit.errors import install_error_handlers
from services.kit.metrics import ServiceMetrics
from services.kit.middleware import ObservabilityMiddleware
from services.kit.settings import ServiceSettings
from services.kit.types import NO_NUL_MESSAGE, Text

Title = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]


class Body(BaseModel):
    title: Title
    note: Text | None = Field(None, max_length=5)


def edge_app() -> FastAPI:
    """The kit's handlers and middleware around routes that fail on purpose."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/items")
    async def create(body: Body, q: Annotated[Text | None, Query(max_length=4)] = None) -> dict:
        return {"title": body.title, "q": q}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/unstorable")
    async def unstorable() -> None:
        raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")

    @app.get("/cached")
    async def cached() -> Response:
        return Response(
            "{}", media_type="application/json", headers={"Cache-Control": "max-age=60"}
        )

    app.add_middleware(
        ObservabilityMiddleware, metrics=ServiceMetrics(f"edge{secrets.token_hex(4)}")
    )
    return app


@pytest.fixture
def aclient() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=edge_app())
    return httpx.AsyncClient(transport=transport, base_url="http://edge")


async def test_a_nul_in_body_or_query_is_a_422_naming_the_field(aclient: httpx.AsyncClient) -> None:
    async with aclient as c:
        r = await c.post("/items", json={"title": "a\x00b"})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"] == [{"field": "title", "message": NO_NUL_MESSAGE}]
        r = await c.post("/items?q=a%00", json={"title": "ok"})
        assert r.json()["errors"] == [{"field": "q", "message": NO_NUL_MESSAGE}]
        r = await c.post("/items", json={"title": "ok", "note": "\x00"})
        assert r.json()["errors"] == [{"field": "note", "message": NO_NUL_MESSAGE}]


async def test_a_lone_surrogate_is_a_422(aclient: httpx.AsyncClient) -> None:
    async with aclient as c:
        r = await c.post(
            "/items", content=b'{"title": "a\\ud800"}', headers={"Content-Type": "application/json"}
        )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "title"
    assert "surrogate" in r.json()["errors"][0]["message"]


async def test_length_rules_keep_their_messages(aclient: httpx.AsyncClient) -> None:
    async with aclient as c:
        r = await c.post("/items?q=abcdef", json={"title": "x" * 11, "note": "123456"})
    messages = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert messages == {
        "title": "String should have at most 10 characters",
        "note": "String should have at most 5 characters",
        "q": "String should have at most 4 characters",
    }


async def test_text_is_plain_text_otherwise(aclient: httpx.AsyncClient) -> None:
    async with aclient as c:
        r = await c.post("/items?q=%ED%95%9C", json={"title": "  서울 여행 \n"})
    assert (r.status_code, r.json()) == (200, {"title": "서울 여행", "q": "한"})


async def test_a_value_the_database_refuses_is_a_422(aclient: httpx.AsyncClient) -> None:
    async with aclient as c:
        r = await c.get("/unstorable")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert "NUL" not in r.text  # the database's words stay in the log


async def test_an_unhandled_error_is_problem_json_with_the_request_id(
    aclient: httpx.AsyncClient,
) -> None:
    async with aclient as c:
        r = await c.get("/boom", headers={"X-Request-ID": "probe-123"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-request-id"] == "probe-123"
    body = r.json()
    assert body["request_id"] == "probe-123" and "probe-123" in body["detail"]
    assert (body["status"], body["title"]) == (500, "Internal Server Error")
    assert "hunter2" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text


async def test_security_headers_on_every_answer(aclient: httpx.AsyncClient) -> None:
    async with aclient as c:
        answers = [
            await c.post("/items", json={"title": "ok"}),
            await c.post("/items", json={}),
            await c.get("/boom"),
            await c.get("/nowhere"),
        ]
        cached = await c.get("/cached")
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["cache-control"] == "no-store", r.url
    assert cached.headers["x-content-type-options"] == "nosniff"
    assert cached.headers["cache-control"] == "max-age=60"  # a route's own choice stands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def real_server() -> Iterator[int]:
    """The edge app under a real uvicorn (httptools, as in production) on a free port."""
    port = _free_port()
    config = uvicorn.Config(
        edge_app(), host="127.0.0.1", port=port, http="httptools", log_level="critical"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_connection_survives_an_unhandled_error(real_server: int) -> None:
    """Re-raised, the error would make uvicorn close the keep-alive connection; a gateway that
    reused it for a POST (which it must not retry) would answer 502."""
    conn = http.client.HTTPConnection("127.0.0.1", real_server, timeout=5)
    conn.request("GET", "/boom")
    first = conn.getresponse()
    assert first.status == 500 and json.loads(first.read())["status"] == 500
    assert first.getheader("connection") != "close"
    sock = conn.sock
    for n in range(20):
        conn.request("POST", "/items", body=json.dumps({"title": f"t{n}"}),
                     headers={"Content-Type": "application/json"})  # fmt: skip
        answer = conn.getresponse()
        assert answer.status == 200, answer.read()
        answer.read()
        assert conn.sock is sock, "the connection was replaced"
    conn.close()


def test_docs_and_schema_are_served_in_dev_only() -> None:
    from services.user.settings import UserSettings

    dev = create_service_app(UserSettings(profile="dev"), title="t", description="d", routers=[])
    prod_settings = UserSettings(profile="prod", jwt_secret=secrets.token_urlsafe(48))
    prod = create_service_app(prod_settings, title="t", description="d", routers=[])
    assert (dev.docs_url, dev.openapi_url) == ("/api/users/docs", "/api/users/openapi.json")
    assert (prod.docs_url, prod.openapi_url, prod.redoc_url) == (None, None, None)
    assert prod.openapi()["info"]["title"] == "t"  # the schema itself still exists (fuzzing)


def test_forwarded_headers_are_trusted_from_the_proxy_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.kit import serve

    seen: dict[str, object] = {}
    monkeypatch.delenv(serve.TRUSTED_PROXIES_ENV, raising=False)
    monkeypatch.setattr(serve.uvicorn, "run", lambda *a, **kw: seen.update(kw))
    serve.serve("services.user.app:create_app", ServiceSettings())
    assert seen["proxy_headers"] is True
    assert seen["forwarded_allow_ips"] is None  # uvicorn's own FORWARDED_ALLOW_IPS, else…
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    config = uvicorn.Config("x:y", forwarded_allow_ips=None)
    assert config.forwarded_allow_ips == "127.0.0.1,::1"  # …loopback, where nginx runs


async def test_a_client_cannot_pick_its_address_past_the_proxy_check() -> None:
    """uvicorn's proxy middleware as serve() configures it: a header from a client that is not
    the proxy is ignored; the proxy's header (nginx: the connection's address) is taken."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    seen: list[object] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        seen.append(scope["client"][0])

    guarded = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1,::1")  # type: ignore[arg-type]
    spoof = [(b"x-forwarded-for", b"198.51.100.9")]
    for client in ("203.0.113.5", "127.0.0.1"):
        scope = {"type": "http", "client": (client, 1234), "headers": spoof}
        await guarded(scope, None, None)  # type: ignore[arg-type]
    assert seen == ["203.0.113.5", "198.51.100.9"]


def test_the_trusted_proxies_come_from_the_deployment_never_star(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.kit import serve

    monkeypatch.setenv(serve.TRUSTED_PROXIES_ENV, "10.1.0.0/24")
    assert serve.trusted_proxies() == "10.1.0.0/24"
    monkeypatch.setenv(serve.TRUSTED_PROXIES_ENV, "*")
    with pytest.raises(ValueError, match="any client"):
        serve.trusted_proxies()


def test_fastapi_native_telemetry_is_off_in_the_services_and_the_baseline() -> None:
    """Observed through Prometheus: FastAPI's own OpenTelemetry would only cost every request a
    look-up of the global providers. The baseline runs the same way, so ratios stay fair."""
    from scenarios.bench.baseline import create_app as baseline_app
    from services.user.settings import UserSettings

    app = create_service_app(UserSettings(profile="dev"), title="t", description="d", routers=[])
    for built in (app, baseline_app()):
        config = built._native_telemetry.config
        assert (config["tracing"], config["metrics"], config["logs"]) == (False, False, False)
    # Off even once an operator configures a provider; FastAPI's default would then record.
    provider = trace.NoOpTracerProvider()
    off = TelemetryConfig(**NO_NATIVE_TELEMETRY, tracer_provider=provider)
    assert not FastAPI(telemetry=off)._native_telemetry.enabled()
    assert FastAPI(telemetry=TelemetryConfig(tracer_provider=provider))._native_telemetry.enabled()

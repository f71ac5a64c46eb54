"""Tokens that must be refused, the rate limit, health, metrics, correlation, Redis outage."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import jwt
import orjson
import pytest

from services.kit.settings import DEV_JWT_SECRET
from services.kit.signing_keys import key_id
from services.user.app import create_app
from services.user.settings import UserSettings
from tests.support import bearer, serving, unique_email
from tests.user.conftest import PASSWORD, register_and_login

pytestmark = pytest.mark.integration
DEV_KID = {"kid": key_id(DEV_JWT_SECRET)}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


async def test_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    claims = {
        "sub": "x",
        "role": "USER",
        "sv": 0,
        "type": "access",
        "jti": "j",
        "iss": "tripgen",
        "iat": now - 3600,
        "exp": now - 60,
    }
    token = jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256", headers=DEV_KID)
    r = await client.get("/api/users/me", headers=bearer(token))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_tampered_token_is_refused(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    header, payload, signature = tokens["access_token"].split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "ADMIN"
    forged = f"{header}.{_b64(claims)}.{signature}"
    assert (await client.get("/api/users", headers=bearer(forged))).status_code == 401


async def test_alg_none_token_is_refused(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    payload = tokens["access_token"].split(".")[1]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', **DEV_KID})}.{payload}."
    assert (await client.get("/api/users/me", headers=bearer(unsigned))).status_code == 401


async def test_token_signed_with_another_key_is_refused(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    claims = {
        "sub": "x",
        "role": "ADMIN",
        "sv": 0,
        "type": "access",
        "jti": "j",
        "iss": "tripgen",
        "iat": now,
        "exp": now + 60,
    }
    stranger = "another-secret-of-sufficient-length-000"
    token = jwt.encode(claims, stranger, algorithm="HS256", headers={"kid": key_id(stranger)})
    assert (await client.get("/api/users", headers=bearer(token))).status_code == 401
    # Claiming the real key's id does not help either.
    token = jwt.encode(claims, stranger, algorithm="HS256", headers=DEV_KID)
    assert (await client.get("/api/users", headers=bearer(token))).status_code == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer  "])
async def test_malformed_authorization_header(client: httpx.AsyncClient, header: str) -> None:
    r = await client.get("/api/users/me", headers={"Authorization": header} if header else {})
    assert r.status_code == 401


async def test_rate_limit_answers_429_with_retry_after(
    user_settings: Callable[..., UserSettings], clean_redis: None
) -> None:
    async with serving(create_app(user_settings(rate_limit_per_minute=3))) as c:
        codes = [(await c.get("/api/users/me")).status_code for _ in range(4)]
        assert codes[:3] == [401, 401, 401]
        last = await c.get("/api/users/me")
        assert last.status_code == 429
        assert 1 <= int(last.headers["Retry-After"]) <= 61


async def test_sign_up_and_log_in_count_against_the_limit_once_each(
    user_settings: Callable[..., UserSettings], clean_redis: None
) -> None:
    """Routes with no caller to check are limited by the client's address, once a request."""
    async with serving(create_app(user_settings(rate_limit_per_minute=2))) as c:
        email = unique_email()
        credentials = {"email": email, "password": PASSWORD}
        registered = await c.post("/api/users/register", json={**credentials, "name": "Limit"})
        logged_in = await c.post("/api/users/login", json=credentials)
        refused = await c.post("/api/users/login", json=credentials)
    assert (registered.status_code, logged_in.status_code) == (201, 200)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61


async def test_health_endpoints_and_metrics(client: httpx.AsyncClient) -> None:
    for path in ("", "/liveness", "/readiness", "/startup"):
        r = await client.get(f"/actuator/health{path}")
        assert r.status_code == 200 and r.json()["status"] == "UP", path
    body = (await client.get("/actuator/health")).json()
    assert body["components"]["db"]["status"] == "UP"
    assert body["components"]["redis"]["status"] == "UP"
    await client.post("/api/users/login", json={"email": "nobody@example.org", "password": "x"})
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/api/users/login",status="401"}' in text
    assert "http_request_duration_seconds_bucket" in text
    assert 'db_pool_connections{state="size"}' in text and "cache_hit_ratio" in text


async def test_request_id_is_returned_and_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/actuator/health/liveness", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    generated = (await client.get("/actuator/health/liveness")).headers["X-Request-ID"]
    assert len(generated) == 32


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/users/openapi.json")).json()
    assert "/api/users/login" in spec["paths"]
    assert (await client.get("/api/users/docs")).status_code == 200


async def test_reads_succeed_from_postgresql_while_redis_is_down(
    client: httpx.AsyncClient, backing: object
) -> None:
    _, tokens = await register_and_login(client)
    auth = bearer(tokens["access_token"])
    redis = backing.redis  # type: ignore[attr-defined]
    redis.stop()
    try:
        for _ in range(3):  # session check falls through to PostgreSQL each time
            r = await client.get("/api/users/me", headers=auth)
            assert r.status_code == 200, r.text
        health = (await client.get("/actuator/health/readiness")).json()
        assert health["status"] == "UP" and health["components"]["redis"]["status"] == "DEGRADED"
        body = (await client.get("/metrics")).text
        assert "cache_errors_total" in body
    finally:
        redis.start()
    assert (await client.get("/api/users/me", headers=auth)).status_code == 200


@pytest.mark.parametrize("access_ttl_s", [900, 3600])
async def test_a_revocation_outlives_every_token_it_revokes(
    user_settings: Callable[..., UserSettings], access_ttl_s: int
) -> None:
    # SPEC.md: session:{userId} 30 min; longer when access tokens live longer than that.
    app = create_app(user_settings(access_token_ttl_s=access_ttl_s))
    async with serving(app) as client:
        _, tokens = await register_and_login(client)
        user_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
        assert await app.state.resources.redis.get(f"session:{user_id}") is None  # nothing revoked
        await client.post("/api/users/logout", headers=bearer(tokens["access_token"]))
        ttl = await app.state.resources.redis.ttl(f"session:{user_id}")
        assert max(30 * 60, access_ttl_s) <= ttl <= max(30 * 60, access_ttl_s + 60)

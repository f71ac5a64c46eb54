"""Refresh rotation with reuse detection, lockout that does not reveal accounts, deletion, and
the internal route only trip-service may call."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import jwt
import pytest

from services.kit.auth import service_token
from services.user.app import create_app
from services.user.settings import UserSettings
from tests.support import bearer, serving, unique_email
from tests.user.conftest import PASSWORD, register_and_login

pytestmark = pytest.mark.integration


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/users/refresh", json={"refresh_token": token})


async def test_a_refresh_token_works_once_and_its_reuse_revokes_the_family(
    client: httpx.AsyncClient,
) -> None:
    _, first = await register_and_login(client)
    second = await _refresh(client, first["refresh_token"])
    assert second.status_code == 200 and second.headers["Cache-Control"] == "no-store"
    third = await _refresh(client, second.json()["refresh_token"])
    assert third.status_code == 200
    # The first token again: a thief (or the owner after the thief). The family is revoked …
    reused = await _refresh(client, first["refresh_token"])
    assert reused.status_code == 401 and "used before" in reused.json()["detail"]
    # … so the newest token of that login is refused too.
    latest = await _refresh(client, third.json()["refresh_token"])
    assert latest.status_code == 401 and "revoked" in latest.json()["detail"]
    claims = jwt.decode(third.json()["refresh_token"], options={"verify_signature": False})
    assert (
        claims["fam"]
        == jwt.decode(first["refresh_token"], options={"verify_signature": False})["fam"]
    )


async def test_another_login_is_another_family(client: httpx.AsyncClient) -> None:
    email, first = await register_and_login(client)
    r = await client.post("/api/users/login", json={"email": email, "password": PASSWORD})
    other = r.json()
    assert (await _refresh(client, first["refresh_token"])).status_code == 200
    assert (await _refresh(client, first["refresh_token"])).status_code == 401  # reuse
    assert (await _refresh(client, other["refresh_token"])).status_code == 200  # untouched


async def test_lockout_answers_known_and_unknown_emails_alike(
    client: httpx.AsyncClient, clean_redis: str
) -> None:
    known, _ = await register_and_login(client)
    unknown = unique_email("nobody")
    answers: dict[str, list[tuple[int, str]]] = {}
    for email in (known, unknown):
        answers[email] = []
        for _ in range(7):
            r = await client.post("/api/users/login", json={"email": email, "password": "wrong-1"})
            answers[email].append((r.status_code, r.json()["detail"]))
            if r.status_code == 429:
                assert 890 <= int(r.headers["Retry-After"]) <= 901
    assert answers[known] == answers[unknown]
    assert [code for code, _ in answers[known]] == [401] * 5 + [429] * 2


async def test_deleting_my_account_ends_it(client: httpx.AsyncClient) -> None:
    email, tokens = await register_and_login(client)
    auth = bearer(tokens["access_token"])
    assert (await client.delete("/api/users/me", headers=auth)).status_code == 204
    assert (await client.get("/api/users/me", headers=auth)).status_code == 401
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 401
    r = await client.post("/api/users/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401


async def test_the_internal_user_route_is_trip_services_only(
    user_settings: Callable[..., UserSettings],
) -> None:
    app = create_app(user_settings())
    async with serving(app) as client:
        _, tokens = await register_and_login(client)
        me = (await client.get("/api/users/me", headers=bearer(tokens["access_token"]))).json()
        path = f"/api/users/internal/{me['id']}"
        trip = bearer(service_token(app.state.tokens, "trip"))
        assert (await client.get(path, headers=trip)).json() == {"id": me["id"], "exists": True}
        missing = await client.get(
            "/api/users/internal/00000000-0000-4000-8000-000000000000", headers=trip
        )
        assert missing.json()["exists"] is False
        ai = bearer(service_token(app.state.tokens, "ai", ("user",)))
        assert (await client.get(path, headers=ai)).status_code == 403
        person = bearer(tokens["access_token"])
        assert (await client.get(path, headers=person)).status_code == 403
        # A service token on a user route: 403, never a 500 from a non-UUID subject.
        assert (await client.get("/api/users/me", headers=trip)).status_code == 403

"""user-service routes against real PostgreSQL and Redis: success and bad input for each."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.kit.auth import Role
from services.user.repository import UserRepository
from tests.support import bearer, unique_email
from tests.user.conftest import PASSWORD, register_and_login

pytestmark = pytest.mark.integration


async def test_register_returns_the_public_profile(client: httpx.AsyncClient) -> None:
    email = unique_email()
    r = await client.post(
        "/api/users/register", json={"email": email, "password": PASSWORD, "name": "Mina"}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == email and body["role"] == "USER" and body["name"] == "Mina"
    assert "password" not in r.text and "hash" not in r.text
    assert body["preferences"] == {
        "preferred_categories": [],
        "pace": "normal",
        "budget": "medium",
        "mobility": "transit",
    }


async def test_duplicate_email_is_409_whatever_the_case(client: httpx.AsyncClient) -> None:
    email = unique_email()
    payload = {"email": email, "password": PASSWORD, "name": "A"}
    assert (await client.post("/api/users/register", json=payload)).status_code == 201
    again = {**payload, "email": email.upper()}
    r = await client.post("/api/users/register", json=again)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "already exists" in r.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, "email"),
        ({"email": "a@example.org", "password": "short1", "name": "A"}, "password"),
        ({"email": "a@example.org", "password": "onlyletterslong", "name": "A"}, "password"),
        ({"email": "a@example.org", "password": "password123", "name": "A"}, "password"),
        ({"email": "a@example.org", "password": PASSWORD, "name": ""}, "name"),
        ({"email": "a@example.org", "password": PASSWORD}, "name"),
        ({"email": "a@example.org", "password": PASSWORD, "name": "A", "role": "ADMIN"}, "role"),
    ],
)
async def test_register_bad_input_names_the_field(
    client: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    r = await client.post("/api/users/register", json=payload)
    assert r.status_code == 422
    body = r.json()
    assert body["title"] == "Validation failed"
    assert field in [e["field"] for e in body["errors"]], body


async def test_register_rejects_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/users/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


async def test_login_issues_a_token_pair(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0
    r = await client.get("/api/users/me", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200


async def test_wrong_credentials_do_not_say_which_part_was_wrong(
    client: httpx.AsyncClient,
) -> None:
    email, _ = await register_and_login(client)
    wrong_password = await client.post(
        "/api/users/login", json={"email": email, "password": "wrong-password-1"}
    )
    unknown_email = await client.post(
        "/api/users/login", json={"email": unique_email(), "password": PASSWORD}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]


async def test_five_failures_in_a_row_lock_the_account(client: httpx.AsyncClient) -> None:
    email, _ = await register_and_login(client)
    for _ in range(5):
        r = await client.post("/api/users/login", json={"email": email, "password": "nope-nope-1"})
        assert r.status_code == 401
    r = await client.post("/api/users/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0


async def test_a_success_resets_the_failure_count(client: httpx.AsyncClient) -> None:
    email, _ = await register_and_login(client)
    for _ in range(4):
        await client.post("/api/users/login", json={"email": email, "password": "nope-nope-1"})
    ok = await client.post("/api/users/login", json={"email": email, "password": PASSWORD})
    assert ok.status_code == 200
    for _ in range(4):
        await client.post("/api/users/login", json={"email": email, "password": "nope-nope-1"})
    assert (
        await client.post("/api/users/login", json={"email": email, "password": PASSWORD})
    ).status_code == 200


async def test_refresh_issues_new_tokens_and_refuses_access_tokens(
    client: httpx.AsyncClient,
) -> None:
    _, tokens = await register_and_login(client)
    r = await client.post("/api/users/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200 and r.json()["access_token"]
    r = await client.post("/api/users/refresh", json={"refresh_token": tokens["access_token"]})
    assert r.status_code == 401
    r = await client.post("/api/users/refresh", json={"refresh_token": "x" * 40})
    assert r.status_code == 401
    r = await client.post("/api/users/refresh", json={})
    assert r.status_code == 422


async def test_logout_ends_the_session_for_access_and_refresh(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    auth = bearer(tokens["access_token"])
    assert (await client.post("/api/users/logout", headers=auth)).status_code == 204
    assert (await client.get("/api/users/me", headers=auth)).status_code == 401
    r = await client.post("/api/users/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    assert (await client.post("/api/users/logout")).status_code == 401


async def test_profile_and_preferences_update(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    auth = bearer(tokens["access_token"])
    prefs = {"preferred_categories": ["food", "culture"], "pace": "relaxed", "budget": "high"}
    r = await client.patch("/api/users/me", headers=auth, json={"preferences": prefs})
    assert r.status_code == 200
    assert r.json()["preferences"]["preferred_categories"] == ["food", "culture"]
    r = await client.patch("/api/users/me", headers=auth, json={"name": "Renamed"})
    assert r.json()["name"] == "Renamed"
    assert r.json()["preferences"]["pace"] == "relaxed"  # untouched fields stay


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"preferences": {"preferred_categories": ["casino"]}}, "preferences.preferred_categories"),
        ({"preferences": {"pace": "sprint"}}, "preferences.pace"),
        ({"preferences": {"preferred_categories": ["food", "food"]}}, "preferences"),
        ({"name": ""}, "name"),
        ({"email": "new@example.org"}, "email"),
    ],
)
async def test_profile_bad_input(
    client: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    _, tokens = await register_and_login(client)
    r = await client.patch("/api/users/me", headers=bearer(tokens["access_token"]), json=payload)
    assert r.status_code == 422
    assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()


async def _admin_tokens(client: httpx.AsyncClient, repo: UserRepository) -> dict[str, Any]:
    email, _ = await register_and_login(client)
    user = await repo.by_email(email)
    assert user
    await repo.set_role(user.id, Role.ADMIN)
    r = await client.post("/api/users/login", json={"email": email, "password": PASSWORD})
    return {"id": user.id, **r.json()}


@pytest.fixture
def repo(client: httpx.AsyncClient) -> UserRepository:
    app = client._transport.app  # type: ignore[attr-defined]
    return app.state.user_resources.users


async def test_admin_lists_users_paged(client: httpx.AsyncClient, repo: UserRepository) -> None:
    admin = await _admin_tokens(client, repo)
    r = await client.get("/api/users?page=1&size=2", headers=bearer(admin["access_token"]))
    assert r.status_code == 200
    body = r.json()
    assert len(body["items"]) == 2 and body["total"] >= 2 and body["size"] == 2
    for bad in ("size=0", "size=101", "page=0", "page=x"):
        r = await client.get(f"/api/users?{bad}", headers=bearer(admin["access_token"]))
        assert r.status_code == 422, bad


async def test_only_admins_list_users_or_change_roles(client: httpx.AsyncClient) -> None:
    _, tokens = await register_and_login(client)
    auth = bearer(tokens["access_token"])
    assert (await client.get("/api/users", headers=auth)).status_code == 403
    r = await client.patch(f"/api/users/{uuid.uuid4()}/role", headers=auth, json={"role": "ADMIN"})
    assert r.status_code == 403
    assert (await client.get("/api/users")).status_code == 401


async def test_role_change_ends_the_target_session(
    client: httpx.AsyncClient, repo: UserRepository
) -> None:
    admin = await _admin_tokens(client, repo)
    email, tokens = await register_and_login(client)
    user = await repo.by_email(email)
    assert user
    r = await client.patch(
        f"/api/users/{user.id}/role",
        headers=bearer(admin["access_token"]),
        json={"role": "POWER_USER"},
    )
    assert r.status_code == 200 and r.json()["role"] == "POWER_USER"
    assert (
        await client.get("/api/users/me", headers=bearer(tokens["access_token"]))
    ).status_code == 401


async def test_role_change_bad_input(client: httpx.AsyncClient, repo: UserRepository) -> None:
    admin = await _admin_tokens(client, repo)
    auth = bearer(admin["access_token"])
    assert (
        await client.patch(f"/api/users/{uuid.uuid4()}/role", headers=auth, json={"role": "USER"})
    ).status_code == 404
    assert (
        await client.patch("/api/users/not-a-uuid/role", headers=auth, json={"role": "USER"})
    ).status_code == 422
    assert (
        await client.patch(f"/api/users/{admin['id']}/role", headers=auth, json={"role": "GOD"})
    ).status_code == 422
    r = await client.patch(f"/api/users/{admin['id']}/role", headers=auth, json={"role": "USER"})
    assert r.status_code == 409

"""OWASP API3:2023 Broken Object Property Level Authorization, through nginx on the prod
profile: a user cannot give themselves a role by mass assignment."""

from __future__ import annotations

import uuid

import pytest

from tests.security.conftest import PASSWORD, Gateway

pytestmark = pytest.mark.e2e


def test_role_cannot_be_mass_assigned(gateway: Gateway) -> None:
    email = f"mass-{uuid.uuid4().hex[:10]}@example.org"
    r = gateway.request(
        "POST",
        "/api/users/register",
        json={"email": email, "password": PASSWORD, "name": "M", "role": "ADMIN"},
    )
    assert r.status_code == 422 and "role" in [e["field"] for e in r.json()["errors"]]
    account = gateway.register("mass")
    for body in ({"role": "ADMIN"}, {"name": "x", "role": "ADMIN"}, {"id": str(uuid.uuid4())}):
        r = gateway.client.patch("/api/users/me", json=body, headers=account.headers)
        assert r.status_code == 422, (body, r.text)
    me = gateway.client.get("/api/users/me", headers=account.headers).json()
    assert me["role"] == "USER" and me["id"] == account.user_id
    # Only an admin changes roles, and never through the user's own routes.
    r = gateway.client.patch(
        f"/api/users/{account.user_id}/role", json={"role": "ADMIN"}, headers=account.headers
    )
    assert r.status_code == 403

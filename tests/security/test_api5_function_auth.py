"""OWASP API5:2023 Broken Function Level Authorization, through nginx on the prod profile:
service tokens reach only the internal routes meant for them; a demoted admin's old token loses
admin functions at once; users cannot reach admin or internal functions."""

from __future__ import annotations

import time

import pytest

from services.kit.auth import TokenCodec, service_token
from services.kit.signing_keys import SigningKeys
from tests.security.conftest import Gateway

pytestmark = pytest.mark.e2e


def _service(
    gateway: Gateway, name: str, audience: tuple[str, ...] | None = None
) -> dict[str, str]:
    """A genuine service token of this deployment (as if stolen from a pod)."""
    codec = TokenCodec(keys=SigningKeys(gateway.jwt_secret))
    return {"Authorization": f"Bearer {service_token(codec, name, audience)}"}


def test_service_tokens_reach_only_their_internal_routes(gateway: Gateway) -> None:
    user = gateway.register("svc")
    ai_everywhere = _service(gateway, "ai", ("user", "trip", "ai", "location"))
    answers = {
        path: gateway.client.request(method, path, json=body, headers=ai_everywhere).status_code
        for method, path, body in (
            ("GET", "/api/users/me", None),
            ("GET", "/api/users", None),
            ("GET", "/api/trips", None),
            ("POST", "/api/ai/schedules/preview", {"city": "Seoul"}),
            ("GET", f"/api/users/internal/{user.user_id}", None),  # trip-service's only
        )
    }
    assert answers == dict.fromkeys(answers, 403)
    # A token not addressed to the service is no token there.
    trip_own = _service(gateway, "trip")  # aud: location, user
    assert gateway.client.get("/api/trips", headers=trip_own).status_code == 401
    r = gateway.client.get(f"/api/users/internal/{user.user_id}", headers=trip_own)
    assert r.status_code == 200 and r.json()["exists"] is True
    # Users cannot call the internal route.
    r = gateway.client.get(f"/api/users/internal/{user.user_id}", headers=user.headers)
    assert r.status_code == 403


def test_a_demoted_admin_loses_admin_functions_at_once(gateway: Gateway) -> None:
    admin = gateway.admin()
    target = gateway.register("demoted")
    promote = gateway.client.patch(
        f"/api/users/{target.user_id}/role", json={"role": "ADMIN"}, headers=admin.headers
    )
    assert promote.status_code == 200
    as_admin = gateway.login(target.email, target.password)
    assert gateway.client.get("/api/users", headers=as_admin.headers).status_code == 200
    demote = gateway.client.patch(
        f"/api/users/{target.user_id}/role", json={"role": "USER"}, headers=admin.headers
    )
    assert demote.status_code == 200
    deadline = time.monotonic() + 1.5
    while gateway.client.get("/api/users", headers=as_admin.headers).status_code != 401:
        assert time.monotonic() < deadline, "the demoted admin's token still works"
        time.sleep(0.1)
    for path in ("/api/trips", "/api/locations/cities"):
        assert gateway.client.get(path, headers=as_admin.headers).status_code == 401


def test_users_cannot_reach_admin_functions(gateway: Gateway) -> None:
    user = gateway.register("plain")
    assert gateway.client.get("/api/users", headers=user.headers).status_code == 403
    r = gateway.client.delete(f"/api/users/{gateway.admin().user_id}", headers=user.headers)
    assert r.status_code == 403

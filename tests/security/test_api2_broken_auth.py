"""OWASP API2:2023 Broken Authentication, through nginx on the prod profile: forged, unsigned,
expired and revoked tokens are refused by every service; refresh reuse revokes the family; the
lockout does not reveal which emails have accounts."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from services.kit.signing_keys import DEV_JWT_SECRET, key_id
from tests.security.conftest import Gateway

pytestmark = pytest.mark.e2e
# One read per service that any signed-in user may make.
READS = ("/api/users/me", "/api/trips", "/api/locations/cities")
FORGER_KEY = "security-probe-forged-with-a-published-key-0"


def _claims(sub: str, **extra: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": sub, "role": "ADMIN", "sv": 0, "type": "access", "jti": uuid.uuid4().hex,
        "iss": "tripgen", "iat": now, "exp": now + 600, **extra,
    }  # fmt: skip


def _b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _refused_everywhere(gateway: Gateway, token: str) -> list[tuple[str, int]]:
    """The reads that did NOT answer 401 problem+json."""
    wrong = []
    for path in (*READS, "/api/ai/schedules/" + str(uuid.uuid4())):
        r = gateway.client.get(path, headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 401 or r.headers["content-type"] != "application/problem+json":
            wrong.append((path, r.status_code))
    return wrong


def test_forged_unsigned_and_expired_tokens_are_refused(gateway: Gateway) -> None:
    victim = gateway.register("forged")
    forged = {
        "dev secret": jwt.encode(
            _claims(victim.user_id), DEV_JWT_SECRET, headers={"kid": key_id(DEV_JWT_SECRET)}
        ),
        "dev secret, the real kid": jwt.encode(
            _claims(victim.user_id),
            DEV_JWT_SECRET,
            headers={"kid": jwt.get_unverified_header(victim.access_token)["kid"]},
        ),
        "another key": jwt.encode(
            _claims(victim.user_id), FORGER_KEY, headers={"kid": key_id(FORGER_KEY)}
        ),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(victim.user_id))}.",
        "tampered role": _tampered(victim.access_token),
        "expired": jwt.encode(
            _claims(victim.user_id, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
            gateway.jwt_secret,
            headers={"kid": key_id(gateway.jwt_secret)},
        ),
        "refresh as access": victim.refresh_token,
        "garbage": "not.a.token",
    }
    failures = {
        name: w for name, token in forged.items() if (w := _refused_everywhere(gateway, token))
    }
    assert failures == {}
    assert all(
        gateway.client.get(p, headers=victim.headers).status_code == 200 for p in READS
    )  # the real token still works


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "ADMIN"
    return f"{header}.{_b64(claims)}.{signature}"


def _wait_refused(gateway: Gateway, token: str) -> list[tuple[str, int]]:
    deadline = time.monotonic() + 1.5  # the 1 s in-process cache, and scheduling noise
    while True:
        wrong = _refused_everywhere(gateway, token)
        if not wrong or time.monotonic() > deadline:
            return wrong
        time.sleep(0.1)


def test_logout_revokes_the_token_at_every_service(gateway: Gateway) -> None:
    account = gateway.register("logout")
    assert all(gateway.client.get(p, headers=account.headers).status_code == 200 for p in READS)
    assert gateway.client.post("/api/users/logout", headers=account.headers).status_code == 204
    assert _wait_refused(gateway, account.access_token) == []
    r = gateway.request("POST", "/api/users/refresh", json={"refresh_token": account.refresh_token})
    assert r.status_code == 401


def test_deletion_and_role_change_revoke_at_every_service(gateway: Gateway) -> None:
    deleted = gateway.register("deleted")
    assert gateway.client.get("/api/trips", headers=deleted.headers).status_code == 200
    assert gateway.client.delete("/api/users/me", headers=deleted.headers).status_code == 204
    assert _wait_refused(gateway, deleted.access_token) == []

    promoted = gateway.register("promoted")
    admin = gateway.admin()
    r = gateway.client.patch(
        f"/api/users/{promoted.user_id}/role", json={"role": "POWER_USER"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert _wait_refused(gateway, promoted.access_token) == []


def test_a_reused_refresh_token_revokes_its_family(gateway: Gateway) -> None:
    account = gateway.register("refresh")
    first = gateway.request(
        "POST", "/api/users/refresh", json={"refresh_token": account.refresh_token}
    )
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    again = gateway.request(
        "POST", "/api/users/refresh", json={"refresh_token": account.refresh_token}
    )
    assert again.status_code == 401
    newest = gateway.request(
        "POST", "/api/users/refresh", json={"refresh_token": first.json()["refresh_token"]}
    )
    assert newest.status_code == 401


def test_the_lockout_does_not_reveal_which_emails_have_accounts(gateway: Gateway) -> None:
    known = gateway.register("lockout").email
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.org"
    answers: dict[str, list[tuple[int, str]]] = {}
    for email in (known, unknown):
        answers[email] = []
        for _ in range(6):
            r = gateway.request(
                "POST", "/api/users/login", json={"email": email, "password": "wrong-password-1"}
            )
            answers[email].append((r.status_code, r.json()["detail"]))
    assert answers[known] == answers[unknown]
    assert answers[known][-1][0] == 429

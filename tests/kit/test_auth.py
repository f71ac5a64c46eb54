from __future__ import annotations

import time

import jwt
import pytest

from services.kit.auth import Principal, Role, TokenCodec
from services.kit.errors import Unauthorized

CODEC = TokenCodec(secret="s" * 40, access_ttl_s=60)


def test_issue_and_verify_round_trip() -> None:
    token = CODEC.issue("u1", Role.POWER_USER, 3)
    p = CODEC.verify(token)
    assert (p.user_id, p.role, p.session_version) == ("u1", Role.POWER_USER, 3)
    assert p.expires_at - time.time() <= 60


def test_refresh_and_access_are_not_interchangeable() -> None:
    refresh = CODEC.issue("u1", Role.USER, 0, "refresh")
    with pytest.raises(Unauthorized, match="access"):
        CODEC.verify(refresh)
    assert CODEC.verify(refresh, "refresh").user_id == "u1"


def test_unknown_role_and_missing_claims_are_refused() -> None:
    now = int(time.time())
    bad_role = jwt.encode(
        {
            "sub": "u",
            "role": "ROOT",
            "type": "access",
            "jti": "j",
            "iss": "tripgen",
            "iat": now,
            "exp": now + 60,
        },
        "s" * 40,
    )
    with pytest.raises(Unauthorized):
        CODEC.verify(bad_role)
    no_exp = jwt.encode(
        {"sub": "u", "role": "USER", "type": "access", "jti": "j", "iss": "tripgen", "iat": now},
        "s" * 40,
    )
    with pytest.raises(Unauthorized):
        CODEC.verify(no_exp)


def test_role_ranks() -> None:
    admin = Principal("a", Role.ADMIN, 0, "j", 0)
    user = Principal("u", Role.USER, 0, "j", 0)
    assert admin.has_role(Role.POWER_USER) and admin.has_role(Role.USER)
    assert not user.has_role(Role.POWER_USER)

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from services.kit.auth import Principal, Role, TokenCodec, service_token
from services.kit.errors import Unauthorized
from services.kit.signing_keys import SigningKeys, key_id

SECRET = "s" * 40
CODEC = TokenCodec(keys=SigningKeys(SECRET), access_ttl_s=60, audience="trip")


def _signed(claims: dict[str, object], secret: str = SECRET, **headers: object) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": key_id(secret), **headers})


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "u",
        "role": "USER",
        "type": "access",
        "jti": "j",
        "iss": "tripgen",
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_issue_and_verify_round_trip() -> None:
    token = CODEC.issue("u1", Role.POWER_USER, 3)
    assert jwt.get_unverified_header(token)["kid"] == key_id(SECRET)
    p = CODEC.verify(token)
    assert (p.user_id, p.role, p.session_version) == ("u1", Role.POWER_USER, 3)
    assert p.expires_at - time.time() <= 60


def test_refresh_and_access_are_not_interchangeable() -> None:
    refresh = CODEC.issue("u1", Role.USER, 0, "refresh")
    with pytest.raises(Unauthorized, match="access"):
        CODEC.verify(refresh)
    assert CODEC.verify(refresh, "refresh").user_id == "u1"


def test_unknown_role_and_missing_claims_are_refused() -> None:
    assert CODEC.verify(_signed(_claims())).user_id == "u"  # the baseline is accepted
    with pytest.raises(Unauthorized, match="invalid token"):
        CODEC.verify(_signed(_claims(role="ROOT")))
    with pytest.raises(Unauthorized, match="invalid token"):
        CODEC.verify(_signed(_claims(exp=None)))


def test_a_token_without_a_known_kid_is_refused() -> None:
    no_kid = jwt.encode(_claims(), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized, match="unknown signing key"):
        CODEC.verify(no_kid)
    other = "o" * 40
    with pytest.raises(Unauthorized, match="unknown signing key"):
        CODEC.verify(_signed(_claims(), other))
    # A known kid with another key's signature: a forgery.
    forged = jwt.encode(_claims(), other, algorithm="HS256", headers={"kid": key_id(SECRET)})
    with pytest.raises(Unauthorized, match="invalid token"):
        CODEC.verify(forged)


def test_alg_none_and_expired_are_refused() -> None:
    def b64(part: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': key_id(SECRET)})}.{b64(_claims())}."
    with pytest.raises(Unauthorized, match="invalid token"):
        CODEC.verify(unsigned)
    past = int(time.time()) - 120
    with pytest.raises(Unauthorized, match="expired"):
        CODEC.verify(_signed(_claims(iat=past, exp=past + 60)))


def test_service_tokens_carry_their_audience() -> None:
    trip = CODEC.verify(service_token(CODEC, "ai", ("trip",)))
    assert trip.is_service and trip.user_id == "service:ai"
    claims = jwt.decode(service_token(CODEC, "trip"), options={"verify_signature": False})
    assert claims["aud"] == ["location", "user"]  # SERVICE_AUDIENCES: whom trip calls
    with pytest.raises(Unauthorized, match="not meant for this service"):
        CODEC.verify(service_token(CODEC, "ai"))  # ai's token names location only
    with pytest.raises(Unauthorized, match="not meant for this service"):
        CODEC.verify(_signed(_claims(sub="service:ai")))  # no audience at all
    with pytest.raises(Unauthorized, match="invalid token"):
        CODEC.verify(_signed(_claims(aud=["trip"])))  # a person's token never has one


def test_role_ranks() -> None:
    admin = Principal("a", Role.ADMIN, 0, "j", 0)
    user = Principal("u", Role.USER, 0, "j", 0)
    assert admin.has_role(Role.POWER_USER) and admin.has_role(Role.USER)
    assert not user.has_role(Role.POWER_USER)


def test_an_accepted_access_token_is_remembered_until_it_expires() -> None:
    codec = TokenCodec(keys=SigningKeys(SECRET), access_ttl_s=1)
    token = codec.issue("u1", Role.USER, 0)  # exp = the next whole second
    first = codec.verify(token)
    assert codec.verify(token) is first  # looked up, not decoded again
    # One character changed is another token: decoded, and its signature fails.
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(Unauthorized, match="invalid token"):
        codec.verify(tampered)
    time.sleep(max(0.0, first.expires_at - time.time()) + 0.01)
    with pytest.raises(Unauthorized, match="expired"):
        codec.verify(token)  # the remembered token expires with the token


def test_refused_and_refresh_tokens_are_never_remembered() -> None:
    codec = TokenCodec(keys=SigningKeys(SECRET), access_ttl_s=60, audience="trip")
    refresh = codec.issue("u1", Role.USER, 0, "refresh")
    assert codec.verify(refresh, "refresh").user_id == "u1"
    with pytest.raises(Unauthorized, match="access"):
        codec.verify(refresh)  # a refresh token is decoded (and refused) every time
    with pytest.raises(Unauthorized, match="not meant for this service"):
        codec.verify(service_token(codec, "ai"))
    with pytest.raises(Unauthorized, match="not meant for this service"):
        codec.verify(service_token(codec, "ai"))
    # Another codec (another service, or new keys after a restart) remembers nothing.
    other = TokenCodec(keys=SigningKeys("o" * 40), access_ttl_s=60)
    with pytest.raises(Unauthorized, match="unknown signing key"):
        other.verify(codec.issue("u1", Role.USER, 0))


def test_the_remembered_tokens_are_bounded() -> None:
    codec = TokenCodec(keys=SigningKeys(SECRET), access_ttl_s=60, remembered=3)
    tokens = [codec.issue(f"u{i}", Role.USER, 0) for i in range(5)]
    principals = [codec.verify(t) for t in tokens]
    assert codec.verify(tokens[-1]) is principals[-1]
    assert codec.verify(tokens[0]) is not principals[0]  # the oldest was let go: decoded again
    assert codec.verify(tokens[0]) == principals[0]
    never = TokenCodec(keys=SigningKeys(SECRET), access_ttl_s=60, remembered=0)
    token = never.issue("u1", Role.USER, 0)
    assert never.verify(token) is not never.verify(token)  # 0: decoded every time

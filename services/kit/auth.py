"""JWT issue/verify and the caller checks behind every service's routes (HS256, expiry and `kid`
required); routes depend on them through `services.kit.access`, which rate-limits first.

Signatures are checked without a call, and a token already verified is not verified again: each
codec keeps the last `remembered` access tokens it accepted, by their exact text, until they
expire (a client sends the same token for up to 15 minutes; decoding it again was about a sixth
of a cached read's CPU). Revocation is not cached that way: a token carries its session version
(`sv`), and every service compares it with the one user-service publishes in Redis on logout, a
role change or deletion (services.kit.sessions), cached in-process and kept current by the
revocation feed, or read again after a second while the feed is down.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import jwt
from fastapi import Request

from services.kit.errors import Forbidden, Unauthorized
from services.kit.sessions import SessionVersions
from services.kit.signing_keys import SigningKeys

TokenType = Literal["access", "refresh"]
_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Role(StrEnum):
    USER = "USER"
    POWER_USER = "POWER_USER"
    ADMIN = "ADMIN"


# Higher roles can do what lower ones can.
_RANK = {Role.USER: 0, Role.POWER_USER: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    session_version: int
    token_id: str
    expires_at: int

    @property
    def is_service(self) -> bool:
        """A service's own token (see `service_token`), not a person's."""
        return self.user_id.startswith(SERVICE_PREFIX)

    def has_role(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


# Whom each service's own token may call (docs/contracts.md › Service-to-service calls): a
# service token carries these as `aud` and a service accepts one only when it is named there.
SERVICE_AUDIENCES: dict[str, tuple[str, ...]] = {
    "trip": ("location", "user"),
    "ai": ("location",),
    "user": (),
    "location": (),
}
SERVICE_PREFIX = "service:"


@dataclass(frozen=True)
class TokenCodec:
    """Issues and verifies tokens. `audience` is the service this codec verifies for."""

    keys: SigningKeys
    algorithm: str = "HS256"
    access_ttl_s: int = 900
    refresh_ttl_s: int = 7 * 24 * 3600
    issuer: str = "tripgen"
    audience: str = ""
    remembered: int = 4096  # accepted access tokens kept (0: decode every time)
    # Accepted access tokens by their exact text, least recently used first (see the module).
    _verified: OrderedDict[str, Principal] = field(
        default_factory=OrderedDict, init=False, repr=False, compare=False
    )

    def issue(
        self,
        user_id: str,
        role: Role,
        session_version: int,
        token_type: TokenType = "access",
        *,
        extra: dict[str, object] | None = None,
    ) -> str:
        now = int(time.time())
        ttl = self.access_ttl_s if token_type == "access" else self.refresh_ttl_s
        claims: dict[str, object] = {
            "sub": user_id,
            "role": role.value,
            "sv": session_version,
            "type": token_type,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "iat": now,
            "exp": now + ttl,
            **(extra or {}),
        }
        return jwt.encode(
            claims,
            self.keys.signing_secret,
            algorithm=self.algorithm,
            headers={"kid": self.keys.signing_kid},
        )

    def claims(self, token: str, token_type: TokenType = "access") -> dict[str, object]:
        """The verified claims; any defect (expired, tampered, `alg: none`, unknown `kid`, wrong
        type or audience) → 401."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("invalid token", headers=_BEARER_CHALLENGE) from exc
        secret = self.keys.secret_for(kid)
        if secret is None:
            raise Unauthorized("invalid token: unknown signing key", headers=_BEARER_CHALLENGE)
        try:
            # `algorithms` pins HS*: a token claiming `none` or RS256 is refused by PyJWT.
            claims: dict[str, object] = jwt.decode(
                token,
                secret,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "type", "jti"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired", headers=_BEARER_CHALLENGE) from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("invalid token", headers=_BEARER_CHALLENGE) from exc
        if claims.get("type") != token_type:
            raise Unauthorized(f"expected a {token_type} token", headers=_BEARER_CHALLENGE)
        self._check_audience(claims)
        return claims

    def _check_audience(self, claims: dict[str, object]) -> None:
        """A service token must name this service in `aud`; a person's token carries no `aud`."""
        aud = claims.get("aud")
        if not str(claims["sub"]).startswith(SERVICE_PREFIX):
            if aud is not None:
                raise Unauthorized("invalid token", headers=_BEARER_CHALLENGE)
            return
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not self.audience or self.audience not in audiences:
            raise Unauthorized(
                "this service token is not meant for this service", headers=_BEARER_CHALLENGE
            )

    def verify(self, token: str, token_type: TokenType = "access") -> Principal:
        """The token's principal (see `claims` for what is refused). An access token this codec
        accepted before is looked up instead of decoded again, until it expires."""
        if token_type == "access":
            known = self._verified.get(token)
            if known is not None:
                if time.time() < known.expires_at:
                    self._verified.move_to_end(token)
                    return known
                del self._verified[token]  # expired: decoding it says so
        principal = self._decode(token, token_type)
        if token_type == "access" and self.remembered:
            self._verified[token] = principal
            if len(self._verified) > self.remembered:
                self._verified.popitem(last=False)
        return principal

    def _decode(self, token: str, token_type: TokenType) -> Principal:
        claims = self.claims(token, token_type)
        try:
            role = Role(str(claims.get("role")))
            session_version = int(str(claims.get("sv", 0)))
        except ValueError as exc:
            raise Unauthorized("invalid token", headers=_BEARER_CHALLENGE) from exc
        return Principal(
            user_id=str(claims["sub"]),
            role=role,
            session_version=session_version,
            token_id=str(claims["jti"]),
            expires_at=int(str(claims["exp"])),
        )


_TOKEN_RESULT = "tripgen.token"  # where one request's token result is kept (its ASGI scope)


def token_result(request: Request) -> Principal | Unauthorized | None:
    """The caller's verified token, the reason it was refused, or None when none was sent.

    The rate limiter and the auth check both ask; the answer is kept in the request's scope so
    a token is read once per request. A plain call, not a dependency: each dependency FastAPI
    resolves costs about 15 µs a request, a tenth of a cached read.
    """
    scope = request.scope
    if _TOKEN_RESULT in scope:
        result: Principal | Unauthorized | None = scope[_TOKEN_RESULT]
        return result
    result = _read_token(request)
    scope[_TOKEN_RESULT] = result
    return result


def _read_token(request: Request) -> Principal | Unauthorized | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Unauthorized("expected 'Authorization: Bearer <token>'", headers=_BEARER_CHALLENGE)
    codec: TokenCodec = request.app.state.tokens
    try:
        return codec.verify(token.strip())
    except Unauthorized as exc:
        return exc


async def current_principal(request: Request) -> Principal:
    """Any verified caller: a person whose session is still current (not ended by logout, a role
    change or deletion, seen within `SessionVersions.cache_s`), or a service token addressed to
    this service. 401 says what was wrong."""
    result = token_result(request)
    if result is None:
        raise Unauthorized("missing bearer token", headers=_BEARER_CHALLENGE)
    if isinstance(result, Unauthorized):
        raise result
    if result.is_service:
        return result
    sessions: SessionVersions = request.app.state.sessions
    if not await sessions.is_current(result.user_id, result.session_version):
        raise Unauthorized("session ended; log in again", headers=_BEARER_CHALLENGE)
    return result


async def current_user(request: Request) -> Principal:
    """A person (a user id for `sub`): a service token, or any other subject, gets 403.
    Calls `current_principal` itself rather than depending on it: one dependency, not two."""
    principal = await current_principal(request)
    if principal.is_service or not _is_uuid(principal.user_id):
        raise Forbidden("this route is for user accounts; a service token cannot use it")
    return principal


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def service_token(codec: TokenCodec, service: str, audience: tuple[str, ...] | None = None) -> str:
    """A token a service uses for its own calls (no caller to forward): `sub` = `service:<name>`,
    `aud` = the services it may call (`SERVICE_AUDIENCES` unless given)."""
    aud = list(SERVICE_AUDIENCES.get(service, ()) if audience is None else audience)
    return codec.issue(f"{SERVICE_PREFIX}{service}", Role.USER, 0, "access", extra={"aud": aud})


class ServiceCredentials:
    """A service's own bearer header, reissued shortly before it expires (one per process)."""

    def __init__(self, codec: TokenCodec, service: str, renew_before_s: int = 60) -> None:
        self.codec = codec
        self.service = service
        self.renew_before_s = min(renew_before_s, codec.access_ttl_s // 2)
        self._header = ""
        self._expires_at = 0.0

    def authorization(self) -> str:
        if time.time() >= self._expires_at - self.renew_before_s:
            self._header = f"Bearer {service_token(self.codec, self.service)}"
            self._expires_at = time.time() + self.codec.access_ttl_s
        return self._header

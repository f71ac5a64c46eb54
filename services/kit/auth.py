"""JWT issue/verify and role checks as FastAPI dependencies (HS256, expiry required).

Tokens are stateless so every service verifies them without a call; user-service additionally
checks the session version (`sv`) so logout and role changes revoke tokens it serves at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request

from services.kit.errors import Forbidden, Unauthorized

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
        return self.user_id.startswith("service:")

    def has_role(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


@dataclass(frozen=True)
class TokenCodec:
    secret: str
    algorithm: str = "HS256"
    access_ttl_s: int = 900
    refresh_ttl_s: int = 7 * 24 * 3600
    issuer: str = "tripgen"

    def issue(
        self, user_id: str, role: Role, session_version: int, token_type: TokenType = "access"
    ) -> str:
        now = int(time.time())
        ttl = self.access_ttl_s if token_type == "access" else self.refresh_ttl_s
        claims = {
            "sub": user_id,
            "role": role.value,
            "sv": session_version,
            "type": token_type,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.secret, algorithm=self.algorithm)

    def verify(self, token: str, token_type: TokenType = "access") -> Principal:
        """The token's principal; any defect (expired, tampered, `alg: none`, wrong type) → 401."""
        try:
            # `algorithms` pins HS*: a token claiming `none` or RS256 is refused by PyJWT.
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "type", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired", headers=_BEARER_CHALLENGE) from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("invalid token", headers=_BEARER_CHALLENGE) from exc
        if claims.get("type") != token_type:
            raise Unauthorized(f"expected a {token_type} token", headers=_BEARER_CHALLENGE)
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise Unauthorized("invalid token", headers=_BEARER_CHALLENGE) from exc
        return Principal(
            user_id=str(claims["sub"]),
            role=role,
            session_version=int(claims.get("sv", 0)),
            token_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
        )


async def token_result(request: Request) -> Principal | Unauthorized | None:
    """The caller's verified token, the reason it was refused, or None when none was sent.

    A dependency both the auth check and the rate limiter use; FastAPI runs it once per request.
    """
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


TokenResult = Annotated[Principal | Unauthorized | None, Depends(token_result)]


async def current_principal(result: TokenResult) -> Principal:
    """The verified caller, or 401 saying what was wrong with the token."""
    if result is None:
        raise Unauthorized("missing bearer token", headers=_BEARER_CHALLENGE)
    if isinstance(result, Unauthorized):
        raise result
    return result


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through callers with at least `role`."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.has_role(role):
            raise Forbidden(f"requires role {role.value}")
        return principal

    return check


def service_token(codec: TokenCodec, service: str) -> str:
    """A token a service uses for its own calls (no caller to forward): `sub` = `service:<name>`."""
    return codec.issue(f"service:{service}", Role.USER, 0, "access")


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


AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]

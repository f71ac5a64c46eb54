"""user-service routes under /api/users: accounts, tokens, sessions, profile, roles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.kit.auth import CurrentUser, Principal, Role, TokenCodec
from services.kit.cache import SESSION
from services.kit.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from services.kit.ratelimit import RateLimited
from services.kit.resources import CacheDep
from services.user.repository import EmailTaken, UserRepository, session_bytes
from services.user.resources import PasswordsDep, RepoDep, SettingsDep
from services.user.schemas import (
    RefreshRequest,
    RoleUpdate,
    TokenPair,
    UserLogin,
    UserPublic,
    UserRegister,
    UsersPage,
    UserUpdate,
)

router = APIRouter(prefix="/api/users", tags=["users"], dependencies=[RateLimited])
_WRONG_CREDENTIALS = "email or password is incorrect"


async def get_tokens(request: Request) -> TokenCodec:
    return request.app.state.tokens


TokensDep = Annotated[TokenCodec, Depends(get_tokens)]


async def _session_version(user_id: str, repo: UserRepository, cache: CacheDep) -> int | None:
    """The user's current session version: `session:{userId}` (30 min), else PostgreSQL."""

    async def load() -> bytes | None:
        row = await repo.session_of(user_id)
        return session_bytes(row["session_version"], row["role"]) if row else None

    raw = await cache.get_or_load(SESSION, SESSION.key(user_id=user_id), load)
    return int(orjson.loads(raw)["sv"]) if raw else None


async def active_session(principal: CurrentUser, repo: RepoDep, cache: CacheDep) -> Principal:
    """The caller, if the token's session was not ended by logout or a role change."""
    current = await _session_version(principal.user_id, repo, cache)
    if current is None or current != principal.session_version:
        raise Unauthorized("session ended; log in again", headers={"WWW-Authenticate": "Bearer"})
    return principal


ActiveUser = Annotated[Principal, Depends(active_session)]


async def active_admin(principal: ActiveUser) -> Principal:
    if not principal.has_role(Role.ADMIN):
        raise Forbidden("requires role ADMIN")
    return principal


ActiveAdmin = Annotated[Principal, Depends(active_admin)]


def _pair(tokens: TokenCodec, user_id: str, role: Role, session_version: int) -> TokenPair:
    return TokenPair(
        access_token=tokens.issue(user_id, role, session_version, "access"),
        refresh_token=tokens.issue(user_id, role, session_version, "refresh"),
        expires_in=tokens.access_ttl_s,
    )


@router.post("/register", status_code=status.HTTP_201_CREATED, summary="Create an account")
async def register(body: UserRegister, repo: RepoDep, passwords: PasswordsDep) -> UserPublic:
    try:
        user = await repo.create(body.email, await passwords.hash(body.password), body.name)
    except EmailTaken as exc:
        raise Conflict("an account with this email already exists") from exc
    return UserPublic.model_validate(user.public())


@router.post("/login", summary="Exchange email and password for tokens")
async def login(
    body: UserLogin,
    repo: RepoDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    settings: SettingsDep,
    cache: CacheDep,
) -> TokenPair:
    user = await repo.by_email(body.email)
    now = datetime.now(UTC)
    if user and user.locked_until and user.locked_until > now:
        retry = int((user.locked_until - now).total_seconds()) + 1
        raise TooManyRequests(
            "too many failed logins; the account is locked for a while",
            headers={"Retry-After": str(retry)},
        )
    ok = await passwords.verify(user.password_hash if user else None, body.password)
    if not user or not ok:
        if user:
            await repo.record_failed_login(user.id, settings.lockout_threshold, settings.lockout_s)
        raise Unauthorized(_WRONG_CREDENTIALS)
    new_hash = (
        await passwords.hash(body.password) if passwords.needs_rehash(user.password_hash) else None
    )
    if user.failed_logins or user.locked_until or new_hash:
        await repo.record_login(user.id, new_hash)
    await cache.set(
        SESSION, SESSION.key(user_id=user.id), session_bytes(user.session_version, user.role)
    )
    return _pair(tokens, user.id, user.role, user.session_version)


@router.post("/refresh", summary="Exchange a refresh token for a new token pair")
async def refresh(
    body: RefreshRequest, repo: RepoDep, tokens: TokensDep, cache: CacheDep
) -> TokenPair:
    principal = tokens.verify(body.refresh_token, "refresh")
    current = await _session_version(principal.user_id, repo, cache)
    if current is None or current != principal.session_version:
        raise Unauthorized("session ended; log in again")
    user = await repo.by_id(principal.user_id)
    if user is None:
        raise Unauthorized("session ended; log in again")
    return _pair(tokens, user.id, user.role, user.session_version)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End every session")
async def logout(principal: ActiveUser, repo: RepoDep, cache: CacheDep) -> Response:
    await repo.bump_session(principal.user_id)
    await cache.delete(SESSION.key(user_id=principal.user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="My profile and travel preferences")
async def me(principal: ActiveUser, repo: RepoDep) -> UserPublic:
    user = await repo.by_id(principal.user_id)
    if user is None:
        raise Unauthorized("session ended; log in again")
    return UserPublic.model_validate(user.public())


@router.patch("/me", summary="Change my name or travel preferences")
async def update_me(body: UserUpdate, principal: ActiveUser, repo: RepoDep) -> UserPublic:
    prefs = body.preferences.model_dump(mode="json") if body.preferences else None
    user = await repo.update_profile(principal.user_id, body.name, prefs)
    if user is None:
        raise Unauthorized("session ended; log in again")
    return UserPublic.model_validate(user.public())


@router.get("", summary="All users, paged (ADMIN)")
async def list_users(
    _: ActiveAdmin,
    repo: RepoDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> UsersPage:
    users, total = await repo.page(page, size)
    return UsersPage(
        items=[UserPublic.model_validate(u.public()) for u in users],
        total=total,
        page=page,
        size=size,
    )


@router.patch("/{user_id}/role", summary="Change a user's role (ADMIN)")
async def change_role(
    user_id: UUID, body: RoleUpdate, admin: ActiveAdmin, repo: RepoDep, cache: CacheDep
) -> UserPublic:
    if str(user_id) == admin.user_id and body.role != Role.ADMIN:
        raise Conflict("an admin cannot remove their own ADMIN role")
    user = await repo.set_role(str(user_id), body.role)
    if user is None:
        raise NotFound(f"no user {user_id}")
    await cache.delete(SESSION.key(user_id=user.id))  # the old role's tokens end now
    return UserPublic.model_validate(user.public())

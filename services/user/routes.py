"""user-service routes under /api/users: accounts, tokens, sessions, profile, roles; and the
internal route trip-service asks whether a user exists.

Every token check (session version included) is the kit's (services.kit.auth): user-service
publishes the session version on logout, a role change and deletion (services.kit.sessions), so
every service refuses the old tokens within a second.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import TypeAdapter

from services.kit.access import AdminUser, CurrentUser, require_service
from services.kit.auth import Role, TokenCodec
from services.kit.errors import (
    Conflict,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from services.kit.ratelimit import RateLimited
from services.kit.sessions import DELETED, SessionPublishError, SessionVersions
from services.user.lockout import LOCKED_MESSAGE
from services.user.refresh_tokens import Exchange, RefreshTokens
from services.user.repository import EmailTaken, UserRecord
from services.user.resources import (
    LockoutDep,
    PasswordsDep,
    RefreshTokensDep,
    RepoDep,
    SessionsDep,
    SettingsDep,
)
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

# Each route is rate-limited once: by its caller check (services.kit.access), or, where there is
# no caller to check, by `RateLimited` itself.
router = APIRouter(prefix="/api/users", tags=["users"])
# Reachable where /api/users is (service calls go through the gateway locally), but only
# trip-service's own token, addressed to user-service, opens it.
internal_router = APIRouter(
    prefix="/api/users/internal", tags=["internal"], include_in_schema=False
)
_WRONG_CREDENTIALS = "email or password is incorrect"
_SESSION_ENDED = "session ended; log in again"
_PROFILE_JSON = TypeAdapter(UserPublic)
# Token responses must not be stored by any cache between the client and us.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def get_tokens(request: Request) -> TokenCodec:
    return request.app.state.tokens


TokensDep = Annotated[TokenCodec, Depends(get_tokens)]


async def _pair(
    tokens: TokenCodec, families: RefreshTokens, user: UserRecord, family: str
) -> TokenPair:
    issued = await families.record(user.id, family)
    return TokenPair(
        access_token=tokens.issue(user.id, user.role, user.session_version, "access"),
        refresh_token=tokens.issue(
            user.id,
            user.role,
            user.session_version,
            "refresh",
            extra={"jti": issued.jti, "fam": issued.family},
        ),
        expires_in=tokens.access_ttl_s,
    )


async def _publish(sessions: SessionVersions, user_id: str, version: int) -> None:
    """Tell every service that tokens below `version` are revoked; 503 if that failed."""
    try:
        await sessions.publish(user_id, version)
    except SessionPublishError as exc:
        raise ServiceUnavailable(
            "the change is saved but not yet seen by every service; retry shortly",
            headers={"Retry-After": "2"},
        ) from exc


def _locked(retry_s: float) -> TooManyRequests:
    """The lockout answer, the same for every email (known or not)."""
    return TooManyRequests(LOCKED_MESSAGE, headers={"Retry-After": str(int(retry_s) + 1)})


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    dependencies=[RateLimited],
)
async def register(body: UserRegister, repo: RepoDep, passwords: PasswordsDep) -> UserPublic:
    try:
        user = await repo.create(body.email, await passwords.hash(body.password), body.name)
    except EmailTaken as exc:
        raise Conflict("an account with this email already exists") from exc
    return UserPublic.model_validate(user.public())


@router.post("/login", summary="Exchange email and password for tokens", dependencies=[RateLimited])
async def login(
    body: UserLogin,
    response: Response,
    repo: RepoDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    families: RefreshTokensDep,
    settings: SettingsDep,
    lockout: LockoutDep,
) -> TokenPair:
    response.headers.update(_NO_STORE)
    user = await repo.by_email(body.email)
    now = datetime.now(UTC)
    if user and user.locked_until and user.locked_until > now:
        raise _locked((user.locked_until - now).total_seconds())
    if user is None and (retry_s := await lockout.locked_for(body.email)):
        raise _locked(retry_s)
    ok = await passwords.verify(user.password_hash if user else None, body.password)
    if not user or not ok:
        if user:
            await repo.record_failed_login(user.id, settings.lockout_threshold, settings.lockout_s)
        else:
            await lockout.record_failure(body.email)
        raise Unauthorized(_WRONG_CREDENTIALS)
    new_hash = (
        await passwords.hash(body.password) if passwords.needs_rehash(user.password_hash) else None
    )
    if user.failed_logins or user.locked_until or new_hash:
        await repo.record_login(user.id, new_hash)
    return await _pair(tokens, families, user, families.new_family())


@router.post(
    "/refresh",
    summary="Exchange a refresh token (used once) for a new token pair",
    dependencies=[RateLimited],
)
async def refresh(
    body: RefreshRequest,
    response: Response,
    repo: RepoDep,
    tokens: TokensDep,
    families: RefreshTokensDep,
) -> TokenPair:
    response.headers.update(_NO_STORE)
    claims = tokens.claims(body.refresh_token, "refresh")
    user_id, jti = str(claims["sub"]), str(claims["jti"])
    if not _is_uuid(user_id):
        raise Unauthorized("invalid token")
    outcome, family = await families.exchange(jti, user_id)
    if outcome is Exchange.REUSED:
        raise Unauthorized(
            "this refresh token was used before: every token of its login is revoked; log in again"
        )
    if outcome is not Exchange.OK or family is None:
        raise Unauthorized("refresh token revoked; log in again")
    user = await repo.by_id(user_id)
    if user is None or user.session_version != claims.get("sv"):
        raise Unauthorized(_SESSION_ENDED)
    return await _pair(tokens, families, user, family)


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End every session")
async def logout(principal: CurrentUser, repo: RepoDep, sessions: SessionsDep) -> Response:
    version = await repo.bump_session(principal.user_id)
    await _publish(sessions, principal.user_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserPublic, summary="My profile and travel preferences")
async def me(principal: CurrentUser, repo: RepoDep) -> Response:
    user = await repo.by_id(principal.user_id)
    if user is None:
        raise Unauthorized(_SESSION_ENDED)
    # Validated once and written as bytes: returned as a model, FastAPI validates it again.
    body = _PROFILE_JSON.dump_json(UserPublic.model_validate(user.public()))
    return Response(content=body, media_type="application/json")


@router.patch("/me", summary="Change my name or travel preferences")
async def update_me(body: UserUpdate, principal: CurrentUser, repo: RepoDep) -> UserPublic:
    prefs = body.preferences.model_dump(mode="json") if body.preferences else None
    user = await repo.update_profile(principal.user_id, body.name, prefs)
    if user is None:
        raise Unauthorized(_SESSION_ENDED)
    return UserPublic.model_validate(user.public())


@router.delete(
    "/me", status_code=status.HTTP_204_NO_CONTENT, summary="Delete my account (ends every session)"
)
async def delete_me(principal: CurrentUser, repo: RepoDep, sessions: SessionsDep) -> Response:
    if not await repo.delete(principal.user_id):
        raise Unauthorized(_SESSION_ENDED)
    await _publish(sessions, principal.user_id, DELETED)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", summary="All users, paged (ADMIN)")
async def list_users(
    _: AdminUser,
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


@router.patch("/{user_id}/role", summary="Change a user's role (ADMIN); ends their sessions")
async def change_role(
    user_id: UUID, body: RoleUpdate, admin: AdminUser, repo: RepoDep, sessions: SessionsDep
) -> UserPublic:
    if str(user_id) == admin.user_id and body.role != Role.ADMIN:
        raise Conflict("an admin cannot remove their own ADMIN role")
    user = await repo.set_role(str(user_id), body.role)
    if user is None:
        raise NotFound(f"no user {user_id}")
    await _publish(sessions, user.id, user.session_version)  # the old role's tokens end now
    return UserPublic.model_validate(user.public())


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a user (ADMIN); ends their sessions",
)
async def delete_user(
    user_id: UUID, admin: AdminUser, repo: RepoDep, sessions: SessionsDep
) -> Response:
    if str(user_id) == admin.user_id:
        raise Conflict("an admin cannot delete their own account here; use DELETE /api/users/me")
    if not await repo.delete(str(user_id)):
        raise NotFound(f"no user {user_id}")
    await _publish(sessions, str(user_id), DELETED)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@internal_router.get("/{user_id}", summary="Whether a user exists (trip-service only)")
async def user_exists(
    user_id: UUID,
    repo: RepoDep,
    _: Annotated[object, Depends(require_service("trip"))],
) -> dict[str, object]:
    # 200 either way: a 404 could as well be a gateway that does not route here.
    return {"id": str(user_id), "exists": await repo.exists(str(user_id))}

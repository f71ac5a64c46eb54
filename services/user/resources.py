"""What user-service holds besides the kit's resources, and the typed dependencies that reach it.

Built once in the app's lifespan (services.user.app) and kept on `app.state.user_resources`.
Dependencies are `async def`: a plain `def` one would cost a thread-pool hop per request; each reads
`app.state` itself rather than depending on another dependency (each one FastAPI resolves costs
about 15 µs a request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.kit.sessions import SessionVersions
from services.user.lockout import UnknownEmailLockout
from services.user.passwords import Passwords
from services.user.refresh_tokens import RefreshTokens
from services.user.repository import UserRepository
from services.user.settings import UserSettings


@dataclass(frozen=True)
class UserResources:
    settings: UserSettings
    users: UserRepository
    passwords: Passwords
    refresh_tokens: RefreshTokens
    lockout: UnknownEmailLockout


async def get_user_resources(request: Request) -> UserResources:
    return request.app.state.user_resources


UserResourcesDep = Annotated[UserResources, Depends(get_user_resources)]


async def get_repo(request: Request) -> UserRepository:
    return request.app.state.user_resources.users


async def get_passwords(request: Request) -> Passwords:
    return request.app.state.user_resources.passwords


async def get_settings(request: Request) -> UserSettings:
    return request.app.state.user_resources.settings


async def get_refresh_tokens(request: Request) -> RefreshTokens:
    return request.app.state.user_resources.refresh_tokens


async def get_lockout(request: Request) -> UnknownEmailLockout:
    return request.app.state.user_resources.lockout


async def get_sessions(request: Request) -> SessionVersions:
    return request.app.state.sessions


RepoDep = Annotated[UserRepository, Depends(get_repo)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
SettingsDep = Annotated[UserSettings, Depends(get_settings)]
RefreshTokensDep = Annotated[RefreshTokens, Depends(get_refresh_tokens)]
LockoutDep = Annotated[UnknownEmailLockout, Depends(get_lockout)]
SessionsDep = Annotated[SessionVersions, Depends(get_sessions)]

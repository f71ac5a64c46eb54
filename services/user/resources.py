"""What user-service holds besides the kit's resources, and the typed dependencies that reach it.

Built once in the app's lifespan (services.user.app) and kept on `app.state.user_resources`.
Dependencies are `async def`: a plain `def` one would cost a thread-pool hop per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.user.passwords import Passwords
from services.user.repository import UserRepository
from services.user.settings import UserSettings


@dataclass(frozen=True)
class UserResources:
    settings: UserSettings
    users: UserRepository
    passwords: Passwords


async def get_user_resources(request: Request) -> UserResources:
    return request.app.state.user_resources


UserResourcesDep = Annotated[UserResources, Depends(get_user_resources)]


async def get_repo(resources: UserResourcesDep) -> UserRepository:
    return resources.users


async def get_passwords(resources: UserResourcesDep) -> Passwords:
    return resources.passwords


async def get_settings(resources: UserResourcesDep) -> UserSettings:
    return resources.settings


RepoDep = Annotated[UserRepository, Depends(get_repo)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
SettingsDep = Annotated[UserSettings, Depends(get_settings)]

"""user-service API models: one family per entity (Register/Update/Public)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from services.kit.auth import Role
from services.kit.types import Text
from services.kit.vocabulary import Budget, Category, Pace, TravelMode

_HAS_LETTER = re.compile(r"[A-Za-z]")
_HAS_DIGIT = re.compile(r"\d")
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "qwerty123",
        "iloveyou1",
        "admin1234",
        "welcome123",
        "letmein123",
        "passw0rd",
        "1q2w3e4r",
        "tripgen123",
    }
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Preferences(Strict):
    """Travel preferences the planner uses as defaults for a user's trips."""

    preferred_categories: list[Category] = Field(default_factory=list, max_length=6)
    pace: Pace = Pace.NORMAL
    budget: Budget = Budget.MEDIUM
    mobility: TravelMode = TravelMode.TRANSIT

    @field_validator("preferred_categories")
    @classmethod
    def _unique(cls, value: list[Category]) -> list[Category]:
        if len(set(value)) != len(value):
            raise ValueError("categories must not repeat")
        return value


class UserRegister(Strict):
    email: EmailStr = Field(max_length=254)
    password: Text = Field(min_length=10, max_length=128)
    name: Text = Field(min_length=1, max_length=100)

    @field_validator("password")
    @classmethod
    def _strong(cls, value: str) -> str:
        if not (_HAS_LETTER.search(value) and _HAS_DIGIT.search(value)):
            raise ValueError("password needs at least one letter and one digit")
        if value.lower() in COMMON_PASSWORDS or len(set(value)) < 5:
            raise ValueError("password is too common or repetitive")
        return value


class UserLogin(Strict):
    email: EmailStr = Field(max_length=254)
    password: Text = Field(min_length=1, max_length=128)


class RefreshRequest(Strict):
    refresh_token: Text = Field(min_length=10, max_length=4096)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserUpdate(Strict):
    """PATCH /me: only the fields sent change."""

    name: Text | None = Field(None, min_length=1, max_length=100)
    preferences: Preferences | None = None


class RoleUpdate(Strict):
    role: Role


class UserPublic(BaseModel):
    id: UUID
    email: str
    name: str
    role: Role
    preferences: Preferences
    created_at: datetime
    updated_at: datetime


class UsersPage(BaseModel):
    items: list[UserPublic]
    total: int
    page: int
    size: int

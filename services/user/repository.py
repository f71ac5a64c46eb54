"""All SQL of user-service (schema `user_db`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb

from services.kit.auth import Role
from services.kit.db import DictPool

_COLUMNS = (
    "id, email, password_hash, name, role, preferences, session_version, failed_logins,"
    " locked_until, created_at, updated_at"
)


class EmailTaken(Exception):
    """The email already has an account."""


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    password_hash: str
    name: str
    role: Role
    preferences: dict[str, Any]
    session_version: int
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> UserRecord:
        return cls(**{**row, "id": str(row["id"]), "role": Role(row["role"])})

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role.value,
            "preferences": self.preferences,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class UserRepository:
    def __init__(self, pool: DictPool) -> None:
        self.pool = pool

    async def create(
        self,
        email: str,
        password_hash: str,
        name: str,
        role: Role = Role.USER,
        preferences: dict[str, Any] | None = None,
    ) -> UserRecord:
        async with self.pool.connection() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO users (email, password_hash, name, role, preferences)"
                    f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                    (email, password_hash, name, role.value, Jsonb(preferences or {})),
                )
            except UniqueViolation as exc:
                raise EmailTaken(email) from exc
            row = await cur.fetchone()
        assert row is not None  # INSERT … RETURNING always returns the row
        return UserRecord.from_row(row)

    async def by_email(self, email: str) -> UserRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower(%s)", (email,)
            )
            row = await cur.fetchone()
        return UserRecord.from_row(row) if row else None

    async def by_id(self, user_id: str) -> UserRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,))
            row = await cur.fetchone()
        return UserRecord.from_row(row) if row else None

    async def record_failed_login(
        self, user_id: str, threshold: int, lockout_s: int
    ) -> datetime | None:
        """Count a failure; the `threshold`-th in a row locks the account. Returns the lock end."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE users SET failed_logins = failed_logins + 1,"
                " locked_until = CASE WHEN failed_logins + 1 >= %s"
                "   THEN now() + make_interval(secs => %s) ELSE locked_until END"
                " WHERE id = %s RETURNING locked_until",
                (threshold, lockout_s, user_id),
            )
            row = await cur.fetchone()
        return row["locked_until"] if row else None

    async def record_login(self, user_id: str, new_hash: str | None = None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL,"
                " password_hash = COALESCE(%s, password_hash) WHERE id = %s",
                (new_hash, user_id),
            )

    async def bump_session(self, user_id: str) -> int:
        """Invalidate every token issued so far (logout, role change)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE users SET session_version = session_version + 1 WHERE id = %s"
                " RETURNING session_version",
                (user_id,),
            )
            row = await cur.fetchone()
        return int(row["session_version"]) if row else 0

    async def update_profile(
        self, user_id: str, name: str | None, preferences: dict[str, Any] | None
    ) -> UserRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE users SET name = COALESCE(%s, name),"
                " preferences = COALESCE(%s, preferences), updated_at = now()"
                f" WHERE id = %s RETURNING {_COLUMNS}",
                (name, Jsonb(preferences) if preferences is not None else None, user_id),
            )
            row = await cur.fetchone()
        return UserRecord.from_row(row) if row else None

    async def set_role(self, user_id: str, role: Role) -> UserRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE users SET role = %s, session_version = session_version + 1,"
                f" updated_at = now() WHERE id = %s RETURNING {_COLUMNS}",
                (role.value, user_id),
            )
            row = await cur.fetchone()
        return UserRecord.from_row(row) if row else None

    async def delete(self, user_id: str) -> bool:
        """Delete the account (its refresh tokens go with it)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
            return cur.rowcount > 0

    async def exists(self, user_id: str) -> bool:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT 1 AS found FROM users WHERE id = %s", (user_id,))
            return await cur.fetchone() is not None

    async def page(self, page: int, size: int) -> tuple[list[UserRecord], int]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM users"
                " ORDER BY created_at, id LIMIT %s OFFSET %s",
                (size, (page - 1) * size),
            )
            rows = await cur.fetchall()
            if rows:
                total = int(rows[0].pop("total"))
                for row in rows[1:]:
                    row.pop("total")
            else:
                cur = await conn.execute("SELECT count(*) AS n FROM users")
                counted = await cur.fetchone()
                total = int(counted["n"]) if counted else 0
        return [UserRecord.from_row(r) for r in rows], total

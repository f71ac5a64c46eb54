"""Refresh-token families in PostgreSQL: rotation with reuse detection (OAuth 2.0 Security BCP).

Every refresh token is recorded when issued and may be exchanged once. The exchange locks its
row, so two concurrent exchanges of one token cannot both succeed: the second is a reuse.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services.kit.db import DictPool


class Exchange(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # never issued, expired and swept, or its user deleted
    REVOKED = "revoked"  # its family was revoked (an earlier reuse)
    REUSED = "reused"  # used before: the family is revoked now


@dataclass(frozen=True)
class Issued:
    jti: str
    family: str


class RefreshTokens:
    def __init__(self, pool: DictPool, ttl_s: int) -> None:
        self.pool = pool
        self.ttl_s = ttl_s

    def new_family(self) -> str:
        return str(uuid.uuid4())

    async def record(self, user_id: str, family: str) -> Issued:
        """Record a new token of `family`; sweeps the user's expired ones on the way."""
        issued = Issued(jti=uuid.uuid4().hex, family=family)
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        async with self.pool.connection() as conn:
            await conn.execute(
                "DELETE FROM refresh_tokens WHERE user_id = %s AND expires_at < now()", (user_id,)
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (jti, family, user_id, expires_at)"
                " VALUES (%s, %s, %s, %s)",
                (issued.jti, family, user_id, expires),
            )
        return issued

    async def exchange(self, jti: str, user_id: str) -> tuple[Exchange, str | None]:
        """Mark `jti` used; the outcome and the token's family."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT family, used_at, revoked_at FROM refresh_tokens"
                " WHERE jti = %s AND user_id = %s FOR UPDATE",
                (jti, user_id),
            )
            row = await cur.fetchone()
            if row is None:
                return Exchange.UNKNOWN, None
            family = str(row["family"])
            if row["revoked_at"] is not None:
                return Exchange.REVOKED, family
            if row["used_at"] is not None:
                await conn.execute(
                    "UPDATE refresh_tokens SET revoked_at = now()"
                    " WHERE family = %s AND revoked_at IS NULL",
                    (family,),
                )
                return Exchange.REUSED, family
            await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE jti = %s", (jti,))
        return Exchange.OK, family

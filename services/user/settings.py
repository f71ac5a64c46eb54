"""user-service settings (`TRIPGEN_USER_*`, falling back to `TRIPGEN_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.kit.settings import ServiceSettings, service_settings_config


class UserSettings(ServiceSettings):
    service_name: ClassVar[str] = "user"
    model_config = service_settings_config("user")

    lockout_threshold: int = Field(5, ge=1)  # failed logins in a row before a lockout
    lockout_s: int = Field(900, ge=1)
    # Argon2id at OWASP's minimum (19 MiB, t=2, p=1): login cost is CPU the service pays.
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_kib: int = Field(19456, ge=8)
    argon2_parallelism: int = Field(1, ge=1)
    # Hashing threads per replica (one core's worth), their nice level (logins yield the CPU to
    # every other request) and how many logins may wait before the replica answers 503.
    password_hash_workers: int = Field(1, ge=1, le=16)
    password_hash_nice: int = Field(10, ge=0, le=19)
    # SCHED_IDLE as well: any other thread that wakes preempts a hash at once (passwords.py).
    password_hash_idle: bool = True
    password_hash_queue_limit: int = Field(64, ge=0)

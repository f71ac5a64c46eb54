"""Settings shared by every service: one `BaseSettings` per service, env prefix per service.

A variable with the shared prefix `TRIPGEN_` applies to every service; the service's own prefix
(`TRIPGEN_USER_`, …) overrides it. That lets the chart put common values in one ConfigMap/Secret.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# Only for local runs and tests (re-exported here): a prod profile refuses to start with it.
from services.kit.signing_keys import DEV_JWT_SECRET, SigningKeys, secret_problem

Profile = Literal["dev", "prod"]
QueueBackend = Literal["redis", "servicebus"]

SHARED_PREFIX = "TRIPGEN_"

# SPEC.md › Data, cache, messaging: L1 max entries dev 1000 / v2 5000.
L1_MAX_ENTRIES: dict[str, int] = {"dev": 1000, "prod": 5000}
# SPEC.md conflict 3 (L2 30 vs 60 min, AI 1 vs 2 h): prod takes v2's 60 min and 2 h.
# dev: L2 30 min (`002`, `003`); no dev AI figure, so prod's 2 h.
L2_TTL_S: dict[str, int] = {"dev": 1800, "prod": 3600}
AI_RESULT_TTL_S: dict[str, int] = {"dev": 7200, "prod": 7200}


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set `service_name` and the env prefix."""

    service_name: ClassVar[str] = "service"
    model_config = SettingsConfigDict(env_prefix=SHARED_PREFIX, extra="ignore", frozen=True)

    profile: Profile = "dev"
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)

    database_url: str = "postgresql://tripgen:tripgen@127.0.0.1:5432/tripgen"
    db_pool_min: int = Field(2, ge=0)
    db_pool_max: int = Field(10, ge=1)
    db_timeout_s: float = Field(5.0, gt=0)

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_s: float = Field(0.5, gt=0)
    # After Redis fails, skip it for this long so an outage costs one timeout, not one per call.
    redis_retry_after_s: float = Field(2.0, ge=0)

    # The key tokens are signed with; `jwt_second_secret` is also accepted (never signs): the
    # next key before a rotation, the previous one after (docs/runbooks/jwt-key-rotation.md).
    jwt_secret: SecretStr | None = None
    jwt_second_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_ttl_s: int = Field(900, ge=30)
    refresh_token_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    # Accepted access tokens a replica remembers so a repeated token is not decoded again
    # (about 1 KB each; 0 decodes every request).
    verified_tokens_remembered: int = Field(4096, ge=0)

    l1_max_entries: int | None = Field(None, ge=1)
    l1_ttl_s: int = Field(300, ge=1)  # SPEC.md: L1 TTL 5 min
    # Every L2 (Redis) write lives this long (services.kit.cache.CacheTtls); unset = the profile's.
    l2_ttl_s: int | None = Field(None, ge=1)
    ai_result_ttl_s: int | None = Field(None, ge=1)

    rate_limit_per_minute: int = Field(100, ge=0)  # SPEC.md (002): 100 req/min per user; 0 = off

    queue_backend: QueueBackend = "redis"
    servicebus_connection_string: SecretStr | None = None

    user_url: str = "http://127.0.0.1:8080"
    trip_url: str = "http://127.0.0.1:8080"
    ai_url: str = "http://127.0.0.1:8080"
    location_url: str = "http://127.0.0.1:8080"
    http_timeout_s: float = Field(3.0, gt=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    zone: str = ""  # the replica's zone label (local platform / downward API), shown in health
    replica: str = ""  # the replica's name (pod name or local replica id)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(settings_cls, env_prefix=SHARED_PREFIX)
        return (init_settings, env_settings, shared, dotenv_settings, file_secret_settings)

    @model_validator(mode="after")
    def _check_prod(self) -> ServiceSettings:
        if self.profile == "prod":
            self._check_prod_keys()
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("db_pool_min must not exceed db_pool_max")
        return self

    def _check_prod_keys(self) -> None:
        """Prod signs only with a key of its own: present, long, and not in the repository."""
        if self.jwt_secret is None or not self.jwt_secret.get_secret_value():
            raise ValueError("jwt_secret is required when profile is prod (set TRIPGEN_JWT_SECRET)")
        keys = {"jwt_secret (TRIPGEN_JWT_SECRET)": self.jwt_secret}
        if self.jwt_second_secret is not None:
            keys["jwt_second_secret (TRIPGEN_JWT_SECOND_SECRET)"] = self.jwt_second_secret
        for setting, secret in keys.items():
            problem = secret_problem(setting, secret.get_secret_value())
            if problem:
                raise ValueError(problem)

    @property
    def signing_key(self) -> str:
        """The JWT key: the configured secret, or the dev-only default outside prod."""
        return self.jwt_secret.get_secret_value() if self.jwt_secret else DEV_JWT_SECRET

    @property
    def signing_keys(self) -> SigningKeys:
        """The signing key and the second key accepted during a rotation."""
        second = self.jwt_second_secret.get_secret_value() if self.jwt_second_secret else None
        return SigningKeys(self.signing_key, second or None)

    @property
    def l1_entries(self) -> int:
        return self.l1_max_entries or L1_MAX_ENTRIES[self.profile]

    @property
    def l2_ttl(self) -> int:
        return self.l2_ttl_s or L2_TTL_S[self.profile]

    @property
    def ai_result_ttl(self) -> int:
        return self.ai_result_ttl_s or AI_RESULT_TTL_S[self.profile]


def service_settings_config(name: str) -> SettingsConfigDict:
    """The model_config of a service's settings: its own prefix, e.g. `TRIPGEN_USER_`."""
    return SettingsConfigDict(
        env_prefix=f"{SHARED_PREFIX}{name.upper()}_", extra="ignore", frozen=True
    )

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from services.kit.settings import DEV_JWT_SECRET, ServiceSettings
from services.user.settings import UserSettings

# Generated per run: any literal written here would be published, and prod refuses those.
PROD_TEST_SECRET = secrets.token_urlsafe(48)


def test_shared_prefix_applies_and_service_prefix_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIPGEN_REDIS_URL", "redis://shared:6379/0")
    monkeypatch.setenv("TRIPGEN_DB_POOL_MAX", "7")
    monkeypatch.setenv("TRIPGEN_USER_DB_POOL_MAX", "3")
    s = UserSettings()
    assert s.redis_url == "redis://shared:6379/0"
    assert s.db_pool_max == 3


def test_profile_picks_spec_cache_defaults() -> None:
    # SPEC.md › Data, cache, messaging: L1 dev 1000 / v2 5000; L2 30 min (v1) / 60 min (v2);
    # conflict 3: prod follows v2 (L2 60 min, AI results 2 h).
    dev = ServiceSettings(profile="dev")
    assert (dev.l1_entries, dev.l2_ttl, dev.ai_result_ttl) == (1000, 1800, 7200)
    prod = ServiceSettings(profile="prod", jwt_secret=PROD_TEST_SECRET)
    assert (prod.l1_entries, prod.l2_ttl, prod.ai_result_ttl) == (5000, 3600, 7200)


def test_cache_ttls_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPGEN_L2_TTL_S", "600")
    monkeypatch.setenv("TRIPGEN_AI_RESULT_TTL_S", "900")
    settings = ServiceSettings(profile="prod", jwt_secret=PROD_TEST_SECRET)
    assert (settings.l2_ttl, settings.ai_result_ttl) == (600, 900)


def test_prod_requires_a_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="jwt_secret is required"):
        ServiceSettings(profile="prod")
    assert ServiceSettings().signing_key == DEV_JWT_SECRET


def test_bad_values_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPGEN_PROFILE", "staging")
    with pytest.raises(ValidationError, match="profile"):
        ServiceSettings()

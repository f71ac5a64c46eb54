"""Prod refuses JWT keys anyone could know; `kid` picks the key; two keys during a rotation."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.kit.settings import ServiceSettings
from services.kit.signing_keys import (
    DEV_JWT_SECRET,
    PUBLISHED_JWT_SECRETS,
    SigningKeys,
    key_id,
    secret_problem,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# A quoted word of 16+ key-like characters, or the value given to a JWT secret setting.
_LITERAL = re.compile(
    r"""["']([A-Za-z0-9_~+=-]{16,})["']"""
    r"""|(?:jwt_secret|jwt_second_secret|JWT_SECRET|JWT_SECOND_SECRET)\s*[:=]\s*["']?"""
    r"""([A-Za-z0-9_~+=-]{8,})"""
)


def prod(**keys: str) -> ServiceSettings:
    return ServiceSettings(profile="prod", **keys)  # type: ignore[arg-type]


def test_prod_starts_with_a_random_key_and_the_dev_profile_has_a_default() -> None:
    key = secrets.token_urlsafe(48)
    assert prod(jwt_secret=key).signing_keys.signing_secret == key
    assert ServiceSettings().signing_key == DEV_JWT_SECRET


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        pytest.param({}, "jwt_secret is required when profile is prod", id="missing"),
        pytest.param({"jwt_secret": ""}, "jwt_secret is required", id="empty"),
        pytest.param(
            {"jwt_secret": DEV_JWT_SECRET},
            r"jwt_secret \(TRIPGEN_JWT_SECRET\) is a secret published in the TripGen repository",
            id="dev-default",
        ),
        pytest.param(
            {"jwt_secret": "tripgen-kind-only-jwt-secret-not-for-production-0123"},
            "published in the TripGen repository",
            id="kind-overlay",
        ),
        pytest.param(
            {"jwt_secret": "k"},
            r"jwt_secret \(TRIPGEN_JWT_SECRET\) is 1 bytes; prod needs at least 32",
            id="one-character",
        ),
        pytest.param({"jwt_secret": "ab" * 20}, "repeats too few characters", id="repetitive"),
        pytest.param(
            {"jwt_secret": secrets.token_urlsafe(48), "jwt_second_secret": DEV_JWT_SECRET},
            r"jwt_second_secret \(TRIPGEN_JWT_SECOND_SECRET\) is a secret published",
            id="published-second-key",
        ),
    ],
)
def test_prod_refuses_keys_anyone_could_know(keys: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        prod(**keys)


def test_prod_refuses_it_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPGEN_PROFILE", "prod")
    monkeypatch.setenv("TRIPGEN_JWT_SECRET", DEV_JWT_SECRET)
    with pytest.raises(ValidationError, match="TRIPGEN_JWT_SECRET"):
        ServiceSettings()


def _repository_literals() -> dict[str, str]:
    """Key-like literals on the lines of tracked files that mention a JWT or a secret."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found: dict[str, str] = {}
    for name in listed:
        path = REPO_ROOT / name
        if name.startswith("services/datainit/data/") or path.suffix in {".png", ".svg", ".gz"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            if re.search(r"jwt|secret", line, flags=re.IGNORECASE):
                for m in _LITERAL.finditer(line):
                    found.setdefault(m.group(1) or m.group(2), name)
    return found


def test_no_key_written_in_the_repository_could_sign_prod_tokens() -> None:
    literals = _repository_literals()
    assert DEV_JWT_SECRET in literals  # the scan sees the values files
    usable = {lit: where for lit, where in literals.items() if not secret_problem("k", lit)}
    assert not usable, f"add these to PUBLISHED_JWT_SECRETS (and the chart's list): {usable}"
    for published in PUBLISHED_JWT_SECRETS:
        assert secret_problem("k", published), published


def test_the_key_id_follows_the_key() -> None:
    one, two = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    assert key_id(one) == key_id(one) != key_id(two)
    assert len(key_id(one)) == 16 and one not in key_id(one)
    keys = SigningKeys(two, one)
    assert keys.signing_kid == key_id(two)
    assert (keys.secret_for(key_id(one)), keys.secret_for(key_id(two))) == (one, two)
    assert keys.secret_for("unknown") is None and keys.secret_for(None) is None
    assert SigningKeys(one).verifying == {key_id(one): one}

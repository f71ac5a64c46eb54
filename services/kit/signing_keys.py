"""JWT signing keys: which secrets a prod deployment refuses, key ids, and the rotation key set.

A secret that appears anywhere in the repository (dev default, kind overlay, tests, docs) is
public: anyone could forge tokens with it. `PUBLISHED_JWT_SECRETS` lists every one; a test scans
the repository's values files, docs and code for secret-looking literals and fails when one is
missing here. The services run from an image without the repository, so the list is code.

Rotation (SPEC.md: 90 days; docs/runbooks/jwt-key-rotation.md): tokens carry `kid`, derived from
the secret itself so a key and its id can never disagree across replicas. A service signs with
`jwt_secret` and also accepts `jwt_second_secret` (the next key before the switch, the previous
one after it), so two keys are valid while replicas roll.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

MIN_SECRET_BYTES = 32  # HS256's key should be at least the hash's length (RFC 7518 §3.2)
MIN_DISTINCT_CHARS = 8  # "xxxx…" is long enough but is no random key

DEV_JWT_SECRET = "tripgen-dev-only-jwt-secret-change-me-0123456789"
PUBLISHED_JWT_SECRETS = frozenset(
    {
        DEV_JWT_SECRET,  # charts/tripgen/values.yaml, services.kit.settings (dev default)
        "tripgen-kind-only-jwt-secret-not-for-production-0123",  # the former kind overlay value
        "another-secret-of-sufficient-length-000",  # tests: a token signed by a stranger
        "security-probe-forged-with-a-published-key-0",  # tests/security: a forger's key
        "rotation-test-key-one-0123456789abcdefghij",  # tests: key rotation
        "rotation-test-key-two-0123456789abcdefghij",  # tests: key rotation
        "replace-me-with-48-random-characters-from-your-vault",  # docs: runbook example
    }
)


def key_id(secret: str) -> str:
    """The `kid` of a secret: a short hash, so every replica derives the same id for one key."""
    return hashlib.sha256(b"tripgen-jwt-kid:" + secret.encode()).hexdigest()[:16]


def secret_problem(setting: str, secret: str) -> str | None:
    """Why `secret` must not sign prod tokens, naming the setting; None when it may."""
    if secret in PUBLISHED_JWT_SECRETS:
        return (
            f"{setting} is a secret published in the TripGen repository (dev, kind, test or "
            "docs value): anyone could forge tokens with it; set a random one from your vault"
        )
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"{setting} is {len(secret.encode())} bytes; prod needs at least {MIN_SECRET_BYTES}"
    if len(set(secret)) < MIN_DISTINCT_CHARS:
        return f"{setting} repeats too few characters to be a random key"
    return None


@dataclass(frozen=True)
class SigningKeys:
    """The key tokens are signed with, and every key a token may be verified with (by `kid`)."""

    signing_secret: str
    second_secret: str | None = None
    verifying: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        keys = {self.signing_kid: self.signing_secret}
        if self.second_secret:
            keys[key_id(self.second_secret)] = self.second_secret
        object.__setattr__(self, "verifying", keys)

    @property
    def signing_kid(self) -> str:
        return key_id(self.signing_secret)

    def secret_for(self, kid: object) -> str | None:
        return self.verifying.get(kid) if isinstance(kid, str) else None

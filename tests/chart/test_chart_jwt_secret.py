"""The JWT signing key in the chart: prod never renders with a missing, short or published key;
kind simulations get a generated one; every service reads a second key during a rotation."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from services.kit.signing_keys import DEV_JWT_SECRET, PUBLISHED_JWT_SECRETS
from simulation.k8s import chart
from tests.chart.chart_support import SERVICES, Doc, container, env_of, one

Render = Callable[[str], list[Doc]]

# prod with its operator values (ci/aks-values.yaml) but a chart-made Secret instead of Key Vault.
PROD_FILES = [chart.CHART_DIR / f for f in chart.PROFILES["prod"]]
PASSWORDS = {"database_password": "db-password-of-the-operator", "redis_password": "redis-pw"}

pytestmark = pytest.mark.usefixtures("helm")


def render_prod(tmp_path: Path, **keys: str | None) -> str:
    """prod's files plus the operator's file with a chart-made Secret holding `keys`: values-prod
    drops the dev values (`values: null`), so they come in a file, as an operator's would."""
    own = tmp_path / "operator-secrets.yaml"
    values = {"secrets": {"provider": "kubernetes", "values": {**PASSWORDS, **keys}}}
    own.write_text(yaml.safe_dump(values), encoding="utf-8")
    return chart.render_text([*PROD_FILES, own], (), use_cache=False)


def render_error(tmp_path: Path, **keys: str | None) -> str:
    with pytest.raises(chart.ChartError) as info:
        render_prod(tmp_path, **keys)
    return str(info.value)


def secret_data(docs: list[Doc]) -> dict[str, str]:
    secret = one(docs, "Secret", "tripgen-secrets")
    if "stringData" in secret:
        return dict(secret["stringData"])
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_prod_without_a_key_of_its_own_fails_naming_the_value(tmp_path: Path) -> None:
    # Left out, values.yaml's dev key comes back through the chart defaults: refused as published.
    message = render_error(tmp_path)
    assert "secrets.values.jwt_secret is a secret published in the TripGen repository" in message
    # Removed outright (null): refused as missing.
    message = render_error(tmp_path, jwt_secret=None)
    assert "secrets.values.jwt_secret is required with profile prod" in message


@pytest.mark.parametrize("published", sorted(PUBLISHED_JWT_SECRETS))
def test_prod_refuses_every_key_published_in_the_repository(tmp_path: Path, published: str) -> None:
    message = render_error(tmp_path, jwt_secret=published)
    assert "secrets.values.jwt_secret is a secret published in the TripGen repository" in message
    second = render_error(
        tmp_path, jwt_secret=secrets.token_urlsafe(48), jwt_second_secret=published
    )
    assert "secrets.values.jwt_second_secret is a secret published" in second


def test_prod_refuses_a_short_key(tmp_path: Path) -> None:
    message = render_error(tmp_path, jwt_secret="short-but-not-published")
    assert "secrets.values.jwt_secret: String length must be greater than or equal to 32" in message


def test_prod_renders_with_a_random_key_and_its_second_key(tmp_path: Path) -> None:
    key, second = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    docs = chart.parse(render_prod(tmp_path, jwt_secret=key, jwt_second_secret=second))
    data = secret_data(docs)
    assert (data["jwt_secret"], data["jwt_second_secret"]) == (key, second)


def test_the_chart_and_the_services_refuse_the_same_published_keys() -> None:
    helpers = (chart.CHART_DIR / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    block = re.search(
        r'define "tripgen.publishedJwtSecrets" -}}\n(.*?)\n\{\{- end', helpers, flags=re.DOTALL
    )
    assert block, "no tripgen.publishedJwtSecrets in _helpers.tpl"
    assert set(block.group(1).split("\n")) == PUBLISHED_JWT_SECRETS


def test_kind_simulations_get_a_generated_key(render: Render) -> None:
    for profile in ("prod+kind", "dev+kind"):
        key = secret_data(render(profile))["jwt_secret"]
        assert len(key) == 48 and key not in PUBLISHED_JWT_SECRETS, profile
    assert secret_data(render("dev"))["jwt_secret"] == DEV_JWT_SECRET  # SPEC.md: dev is fixed


def test_every_service_reads_the_second_key_when_there_is_one(render: Render) -> None:
    for profile in ("dev", "prod"):
        for name in SERVICES:
            env = env_of(container(one(render(profile), "Deployment", f"tripgen-{name}")))
            ref = env["TRIPGEN_JWT_SECOND_SECRET"]["valueFrom"]["secretKeyRef"]
            assert ref["key"] == "jwt_second_secret" and ref["optional"] is True

"""values.schema.json rejects bad values with a clear message; template checks fail loudly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from simulation.k8s import chart
from simulation.k8s.helm import Helm


def render_error(files: list[str], *sets: str) -> str:
    with pytest.raises(chart.ChartError) as info:
        chart.render_text([chart.CHART_DIR / f for f in files], tuple(sets), use_cache=False)
    return str(info.value)


@pytest.mark.usefixtures("helm")
@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        pytest.param(
            ["services.user.replicaCount=three"],
            "services.user.replicaCount: Invalid type. Expected: integer, given: string",
            id="replicas-three",
        ),
        pytest.param(
            ["profile=staging"],
            'profile: profile must be one of the following: "dev", "prod"',
            id="profile-staging",
        ),
        pytest.param(
            ["services.user.colour=blue"],
            "services.user: Additional property colour is not allowed",
            id="unknown-key-in-service",
        ),
        pytest.param(
            ["replicas=3"],
            "Additional property replicas is not allowed",
            id="unknown-top-level-key",
        ),
        pytest.param(
            ["services.billing.enabled=true"],
            "services: Additional property billing is not allowed",
            id="unknown-service",
        ),
        pytest.param(
            ["services.trip.resources.requests.cpu=lots"],
            "services.trip.resources.requests.cpu: Does not match pattern",
            id="cpu-quantity",
        ),
        pytest.param(
            ["services.ai.resources.limits.memory=8G"],
            "services.ai.resources.limits.memory: Does not match pattern",
            id="memory-unit",
        ),
        pytest.param(
            ["services.ai.autoscaling.targetCPUUtilizationPercentage=150"],
            "Must be less than or equal to 100",
            id="cpu-target-over-100",
        ),
        pytest.param(
            ["services.trip.pdb.minAvailable=-1"],
            "services.trip.pdb.minAvailable: Must be greater than or equal to 0",
            id="pdb-negative",
        ),
        pytest.param(
            ["resourcesScale=2"],
            "resourcesScale: Must be less than or equal to 1",
            id="scale-above-1",
        ),
        pytest.param(
            ["scheduling.podAntiAffinity.type=always"],
            'must be one of the following: "", "soft", "hard"',
            id="anti-affinity-type",
        ),
        pytest.param(
            ["networkPolicy.mode=open"],
            'networkPolicy.mode: networkPolicy.mode must be one of the following: "permissive", '
            '"restricted"',
            id="netpol-mode",
        ),
        pytest.param(
            ["secrets.values.jwt_secret=short"],
            "secrets.values.jwt_secret: String length must be greater than or equal to 32",
            id="jwt-secret-too-short",
        ),
        pytest.param(
            ["secrets.values.database_password=p@ss/word"],
            "secrets.values.database_password: Does not match pattern",
            id="password-not-url-safe",
        ),
        pytest.param(
            ["dataInit.steps={schema,seed}"],
            'must be one of the following: "schema", "sample", "validate"',
            id="datainit-step",
        ),
        pytest.param(
            ["config.queueBackend=kafka"],
            'must be one of the following: "redis", "servicebus"',
            id="queue-backend",
        ),
    ],
)
def test_schema_rejects(sets: list[str], expected: str) -> None:
    message = render_error(["values-dev.yaml"], *sets)
    assert "values don't meet the specifications of the schema" in message
    assert expected in message


PROD = ["values-prod.yaml", "ci/aks-values.yaml"]  # prod with the operator's values


def missing_values(message: str) -> list[str]:
    """The values a failed render names, one `  - value: what it is` line each."""
    return [
        line.split(":")[0].strip(" -") for line in message.splitlines() if line.startswith("  - ")
    ]


@pytest.mark.usefixtures("helm")
def test_prod_refuses_sample_data() -> None:
    # SPEC.md: Dev data initialisation — sample data is dev only
    message = render_error(PROD, "dataInit.steps={schema,sample}")
    assert "sample data is dev/kind only" in message


@pytest.mark.usefixtures("helm")
def test_min_replicas_above_max_is_refused() -> None:
    message = render_error(PROD, "services.user.autoscaling.minReplicas=11")
    assert "services.user.autoscaling: minReplicas (11) exceeds maxReplicas (10)" in message


# Every value values-prod.yaml leaves to the operator, as the render names it.
OPERATOR_VALUES = (
    "image.registry",
    "image.digest",
    "secrets.keyVault.name",
    "secrets.keyVault.tenantId",
    "secrets.keyVault.clientId",
    "externalDatabase.host",
    "networkPolicy.egress.postgresqlCidrs",
    "externalRedis.host",
    "networkPolicy.egress.redisCidrs",
    "ingress.host",
    "networkPolicy.ingress.cidrs",
)


@pytest.mark.usefixtures("helm")
def test_prod_alone_names_every_missing_operator_value() -> None:
    message = render_error(["values-prod.yaml"])
    assert missing_values(message) == list(OPERATOR_VALUES)
    assert "deploy-aks --values FILE" in message


@pytest.mark.usefixtures("helm")
@pytest.mark.parametrize("value", OPERATOR_VALUES)
def test_each_operator_value_is_required_on_its_own(value: str, tmp_path: Path) -> None:
    # the operator's file with this one value emptied
    *parents, leaf = value.split(".")
    emptied: dict[str, Any] = {leaf: [] if leaf.lower().endswith("cidrs") else ""}
    for key in reversed(parents):
        emptied = {key: emptied}
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump(emptied))
    message = render_error([*PROD, str(override)])
    assert missing_values(message) == [value]


@pytest.mark.usefixtures("helm")
@pytest.mark.parametrize("field", ["tenantId", "clientId"])
def test_the_zero_guid_is_refused(field: str) -> None:
    zero = "00000000-0000-0000-0000-000000000000"
    message = render_error(PROD, f"secrets.keyVault.{field}={zero}")
    assert f"secrets.keyVault.{field}:" in message
    assert "the all-zero placeholder is not one" in message


@pytest.mark.usefixtures("helm")
def test_a_guid_must_look_like_one() -> None:
    message = render_error(PROD, "secrets.keyVault.tenantId=my-tenant")
    assert "secrets.keyVault.tenantId: Does not match pattern" in message


@pytest.mark.usefixtures("helm")
def test_a_registry_is_a_host_not_a_url() -> None:
    message = render_error(PROD, "image.registry=https://tripgen.azurecr.io")
    assert "image.registry: Does not match pattern" in message


def test_lint_strict_rejects_bad_values(helm: Helm, tmp_path) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text("services:\n  user:\n    replicaCount: three\n")
    ok, out = chart.lint([bad])
    assert not ok
    assert "replicaCount" in out
